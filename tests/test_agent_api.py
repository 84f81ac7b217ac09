"""The agent's HTTP API end to end: real Redis, the real model, the app's own lifespan."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
import redis
from agent_helpers import run, running_agent

from agentwatch.agent.errors import UNKNOWN_ROUTE_CLASS
from agentwatch.agent.state import meta_key, turns_key
from agentwatch.telemetry import catalogue as c

pytestmark = [pytest.mark.live, pytest.mark.model]


def assert_error(response, status: int, error_class: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["class"] == error_class
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.text


def test_a_conversation_flows_end_to_end(redis_server):
    async def scenario():
        async with running_agent(redis_server.url) as agent:
            assert (await agent.client.get("/readyz")).json() == {
                "status": "ready", "checks": {"model": "ok", "state_store": "ok", "draining": "no"}}
            assert (await agent.client.get("/startupz")).json() == {"status": "started"}
            assert (await agent.client.get("/healthz")).status_code == 200
            replies = [(await agent.say("flow-1", text)).json() for text in (
                "hello", "where is my order 48213?", "when will it get here?", "thanks, bye")]
            history = (await agent.client.get("/v1/conversations/flow-1")).json()
            closed = await agent.client.post("/v1/conversations/flow-1/close", json={"outcome": "resolved"})
            late = await agent.say("flow-1", "one more thing")
            return agent, replies, history, closed, late

    agent, replies, history, closed, late = run(scenario())
    assert [r["turn"] for r in replies] == [1, 2, 3, 4]
    assert [r["intent"] for r in replies] == ["greeting", "order_status", "order_status", "goodbye"]
    assert all(set(r) == {"conversation_id", "turn", "reply", "intent", "confidence", "escalated"}
               for r in replies)
    assert "48213" in replies[2]["reply"], "the order number from turn 2 is used in turn 3"
    assert not any(r["escalated"] for r in replies)
    assert history["status"] == "open" and history["conversation_id"] == "flow-1"
    assert [(t["role"], t["text"]) for t in history["turns"][:2]] == [("user", "hello"),
                                                                      ("agent", replies[0]["reply"])]
    assert len(history["turns"]) == 8 and all(t["ts"].endswith("Z") for t in history["turns"])
    assert closed.status_code == 200 and closed.json()["outcome"] == "resolved"
    assert_error(late, 409, "conversation_closed")  # a closed conversation takes no more messages
    assert agent.value(c.CONVERSATIONS_STARTED) == 1
    assert agent.value(c.CONVERSATIONS_ENDED, outcome="resolved") == 1
    assert agent.value(c.CONVERSATION_TURNS.sum) == 4
    assert agent.value(c.INTENTS_TOTAL, intent="order_status") == 2


def test_two_instances_sharing_one_redis_serve_the_same_conversation(redis_server):
    async def scenario():
        async with running_agent(redis_server.url) as a, running_agent(redis_server.url) as b:
            first = (await a.say("shared-1", "my order number is 77123")).json()
            second = (await b.say("shared-1", "where is it now?")).json()
            third = (await a.say("shared-1", "ok thanks")).json()
            history_b = (await b.client.get("/v1/conversations/shared-1")).json()
            return first, second, third, history_b, a, b

    first, second, third, history_b, a, b = run(scenario())
    assert [first["turn"], second["turn"], third["turn"]] == [1, 2, 3]
    assert "77123" in second["reply"], "instance B uses context written by instance A"
    assert [t["text"] for t in history_b["turns"] if t["role"] == "user"] == [
        "my order number is 77123", "where is it now?", "ok thanks"]
    assert a.value(c.CONVERSATIONS_STARTED) + b.value(c.CONVERSATIONS_STARTED) == 1


def test_concurrent_posts_to_one_conversation_through_two_instances_lose_nothing(redis_server):
    per_instance = 15

    async def scenario():
        async with running_agent(redis_server.url) as a, running_agent(redis_server.url) as b:
            sends = [agent.say("race-http", f"{name} message {i} about order {1000 + i}")
                     for i in range(per_instance) for name, agent in (("a", a), ("b", b))]
            responses = await asyncio.gather(*sends)
            history = (await a.client.get("/v1/conversations/race-http")).json()
            return responses, history

    responses, history = run(scenario())
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    assert sorted(r.json()["turn"] for r in responses) == list(range(1, 2 * per_instance + 1))
    users = [t for t in history["turns"] if t["role"] == "user"]
    assert len(users) == 2 * per_instance and len(history["turns"]) == 4 * per_instance
    assert [t["turn"] for t in history["turns"][::2]] == list(range(1, 2 * per_instance + 1))


def test_a_redis_outage_is_reported_by_readyz_without_failing_it_and_probes_count_no_errors(fresh_redis):
    async def scenario():
        async with running_agent(fresh_redis.url, redis_timeout_ms=300) as agent:
            up = await agent.client.get("/readyz")
            fresh_redis.stop()
            down = await agent.client.get("/readyz")
            ready_gauge_down = agent.value(c.READY)
            message = await agent.say("down-1", "hello")
            alive = await agent.client.get("/healthz")
            fresh_redis.start()
            back = await agent.client.get("/readyz")
            after = await agent.say("down-1", "hello again")
            return agent, up, down, ready_gauge_down, message, alive, back, after

    agent, up, down, ready_gauge_down, message, alive, back, after = run(scenario())
    assert up.status_code == 200
    # Redis is shared: failing readiness on it would empty the Service of every instance at once.
    assert down.status_code == 200 and down.json()["checks"]["state_store"] == "unavailable"
    assert ready_gauge_down == 1
    assert_error(message, 503, "state_store_unavailable")
    assert alive.status_code == 200, "a Redis outage must not make the pod look dead"
    assert back.status_code == 200 and back.json()["checks"]["state_store"] == "ok"
    assert after.status_code == 200 and after.json()["turn"] == 1
    assert agent.value(c.ERRORS, error_class="state_store_unavailable") == 1, "the customer's 503, not probes"


def test_readiness_may_be_gated_on_redis_and_its_503s_are_not_counted_as_errors(fresh_redis):
    async def scenario():
        async with running_agent(fresh_redis.url, redis_timeout_ms=300,
                                 readiness_requires_state_store=True) as agent:
            fresh_redis.stop()
            down = [await agent.client.get("/readyz") for _ in range(3)]
            return agent, down

    agent, down = run(scenario())
    for response in down:
        assert response.status_code == 503 and response.json()["error"]["class"] == "state_store_unavailable"
        assert response.json()["checks"]["state_store"] == "unavailable"
    assert agent.value(c.READY) == 0
    assert sum(agent.value(c.ERRORS, error_class=k) for k in c.ERROR_CLASSES) == 0
    assert agent.value(c.REQUEST_DURATION.count, route="/readyz", method="GET", code="503") == 0


def test_an_unloadable_model_keeps_the_agent_unready_and_unhealthy(redis_server, tmp_path):
    async def scenario():
        async with running_agent(redis_server.url, model=None, wait_ready=False,
                                 model_path=str(tmp_path)) as agent:
            await agent.app.state.service.ready_event.wait()
            return (agent, await agent.client.get("/readyz"), await agent.client.get("/healthz"),
                    await agent.client.get("/startupz"), await agent.say("nomodel-1", "hello"))

    agent, ready, health, started, message = run(scenario())
    assert ready.status_code == 503 and ready.json()["error"]["class"] == "model_not_loaded"
    assert "failed to load" in ready.json()["error"]["message"] and ready.json()["checks"]["model"] == "failed"
    assert_error(health, 503, "model_not_loaded")
    assert_error(started, 503, "model_not_loaded")
    assert_error(message, 503, "model_not_loaded")
    assert agent.value(c.ERRORS, error_class="model_not_loaded") == 1, "only the message counts, not probes"
    assert agent.value(c.MODEL_LOADED, model="all-MiniLM-L6-v2") == 0
    assert agent.value(c.READY) == 0


def test_a_full_queue_answers_429_with_retry_after(redis_server):
    async def scenario():
        # Admission lets 50 in, so the inference queue (capacity 2) is what turns requests away here.
        async with running_agent(redis_server.url, queue_capacity=2, max_batch=1, max_wait_ms=0,
                                 request_timeout_ms=60_000, max_inflight=50) as agent:
            # Hold the inference thread, as a long forward pass would: one request is taken into a
            # batch, at most two wait in the queue, every other one must be turned away at once.
            batcher = agent.app.state.service.batcher
            busy = threading.Event()
            forward = batcher.run
            batcher.run = lambda texts: (busy.wait(30), forward(texts))[1]
            sends = [asyncio.ensure_future(agent.say(f"busy-{i}", "where is my order?")) for i in range(20)]
            settled = time.monotonic() + 20
            while sum(f.done() for f in sends) + len(batcher) + 1 != len(sends) and time.monotonic() < settled:
                await asyncio.sleep(0.01)
            queued = len(batcher)
            busy.set()
            return agent, await asyncio.gather(*sends), queued

    agent, responses, queued = run(scenario())
    rejected = [r for r in responses if r.status_code == 429]
    assert queued in (1, 2), "requests wait in the queue only up to its capacity"
    assert len(rejected) == len(responses) - 1 - queued
    assert sum(r.status_code == 200 for r in responses) == 1 + queued
    for response in rejected:
        assert_error(response, 429, "overloaded")
        assert int(response.headers["retry-after"]) >= 1
    assert agent.value(c.ERRORS, error_class="overloaded") == len(rejected)
    assert agent.value(c.QUEUE_CAPACITY) == 2


def test_a_request_past_its_deadline_gets_504_and_leaves_the_queue(redis_server):
    async def scenario():
        # One request never fills a batch of 8, so the worker waits 300 ms: past the 1 ms deadline.
        async with running_agent(redis_server.url, request_timeout_ms=1, max_wait_ms=300) as agent:
            response = await agent.say("slow-1", "where is my order?")
            queued = len(agent.app.state.service.batcher)
            history = await agent.client.get("/v1/conversations/slow-1")
            return agent, response, queued, history

    agent, response, queued, history = run(scenario())
    assert_error(response, 504, "inference_timeout")
    assert queued == 0
    assert_error(history, 404, "context_not_found")  # nothing was saved for the failed turn
    assert agent.value(c.ERRORS, error_class="inference_timeout") == 1
    failed = [s for s in agent.finished_spans() if s.attributes.get("error.type") == "inference_timeout"]
    assert [s.kind.name for s in failed] == ["SERVER"]  # timed out in the queue: no inference span
    assert all(s.status.status_code.name == "ERROR" for s in failed)
    assert agent.value(c.QUEUE_WAIT.count) == 1


CHUNKED = object()  # stands for a streamed body: built per test, an async generator runs once


async def _chunks(size: int):
    for _ in range(size // 8192):
        yield b"x" * 8192


BAD_REQUESTS = [
    ("post", "/v1/conversations/..%2F..%2Fetc%2Fpasswd/messages", {"json": {"text": "hi"}}, 404,
     UNKNOWN_ROUTE_CLASS),
    ("post", "/v1/conversations/caf%C3%A9/messages", {"json": {"text": "hi"}}, 400, "bad_request"),
    ("post", "/v1/conversations/" + "a" * 65 + "/messages", {"json": {"text": "hi"}}, 400, "bad_request"),
    ("post", "/v1/conversations/a%20b/messages", {"json": {"text": "hi"}}, 400, "bad_request"),
    ("post", "/v1/conversations/%7Bx%7D/messages", {"json": {"text": "hi"}}, 400, "bad_request"),
    ("post", "/v1/conversations/abc%0A/messages", {"json": {"text": "hi"}}, 400, "bad_request"),
    ("post", "/v1/conversations//messages", {"json": {"text": "hi"}}, 404, UNKNOWN_ROUTE_CLASS),
    ("post", "/v1/conversations/ok-1/messages", {"json": {"text": "x" * 4001}}, 400, "bad_request"),
    ("post", "/v1/conversations/ok-1/messages", {"json": {"text": ""}}, 400, "bad_request"),
    ("post", "/v1/conversations/ok-1/messages", {"json": {"text": " \n\t "}}, 400, "bad_request"),
    ("post", "/v1/conversations/ok-1/messages", {"content": b"{not json",
                                                  "headers": {"content-type": "application/json"}}, 400,
     "bad_request"),
    ("post", "/v1/conversations/ok-1/messages", {"content": b"text=hi", "headers": {
        "content-type": "application/x-www-form-urlencoded"}}, 400, "bad_request"),
    ("post", "/v1/conversations/ok-1/messages", {"json": {"text": 42}}, 400, "bad_request"),
    ("post", "/v1/conversations/ok-1/messages", {"json": {"text": None}}, 400, "bad_request"),
    ("post", "/v1/conversations/ok-1/messages", {"json": {"txt": "hi"}}, 400, "bad_request"),
    ("post", "/v1/conversations/ok-1/messages", {"json": ["hi"]}, 400, "bad_request"),
    ("post", "/v1/conversations/ok-1/messages", {}, 400, "bad_request"),
    ("post", "/v1/conversations/ok-1/messages", {"json": {"text": "x" * 1_000_000}}, 413, "payload_too_large"),
    ("post", "/v1/conversations/ok-1/messages", {"content": CHUNKED}, 413, "payload_too_large"),
    ("post", "/v1/conversations/ok-1/close", {"json": {"outcome": "escalated"}}, 400, "bad_request"),
    ("post", "/v1/conversations/never-seen/close", {"json": {"outcome": "resolved"}}, 404, "context_not_found"),
    ("get", "/v1/conversations/never-seen", {}, 404, "context_not_found"),
    ("get", "/v2/everything", {}, 404, UNKNOWN_ROUTE_CLASS),
    ("delete", "/v1/conversations/ok-1", {}, 405, "method_not_allowed"),
    ("get", "/v1/conversations/ok-1/messages", {}, 405, "method_not_allowed"),
]
BAD_REQUEST_IDS = [
    "a path-traversal id", "a non-ASCII id", "an id of 65 characters", "an id with a space",
    "an id with Redis hash-tag braces", "an id ending in a newline", "an empty id",
    "text of 4001 characters", "empty text", "whitespace-only text", "a body that is not JSON",
    "a form-encoded body", "a number for text", "null for text", "a misspelt field", "a JSON list",
    "no body at all", "a 1 MB body", "a 1 MB chunked body without a length", "an outcome clients may not set",
    "closing an unknown conversation", "reading an unknown conversation", "an unknown route",
    "DELETE on a conversation", "GET on the messages route",
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "error_class"), BAD_REQUESTS,
                         ids=BAD_REQUEST_IDS)
def test_bad_requests_get_a_4xx_error_body_counted_once(redis_server, method, path, kwargs, status,
                                                        error_class):
    async def scenario():
        async with running_agent(redis_server.url) as agent:
            # A conversation to close exists, so only the outcome is wrong.
            await agent.say("ok-1", "hello")
            args = {"content": _chunks(1 << 20)} if kwargs.get("content") is CHUNKED else kwargs
            response = await agent.client.request(method.upper(), path, **args)
            return agent, response

    agent, response = run(scenario())
    assert_error(response, status, error_class)
    if status == 405:
        assert response.headers["allow"]
    assert agent.value(c.ERRORS, error_class=error_class) == 1
    assert sum(agent.value(c.ERRORS, error_class=k) for k in c.ERROR_CLASSES) == 1


def test_text_of_exactly_4000_characters_is_accepted(redis_server):
    async def scenario():
        async with running_agent(redis_server.url) as agent:
            return await agent.say("long-1", "é" * 4000)

    assert run(scenario()).status_code == 200


def test_corrupt_state_is_a_500_without_a_traceback_in_the_body(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.rpush(turns_key("corrupt-1"), "{not json")
    client.hset(meta_key("corrupt-1"), mapping={"status": "open", "user_turns": 1})

    async def scenario():
        async with running_agent(redis_server.url) as agent:
            # A template reply reads only the flags; the history endpoint parses every turn.
            return agent, await agent.client.get("/v1/conversations/corrupt-1")

    agent, response = run(scenario())
    assert_error(response, 500, "internal")
    assert agent.value(c.ERRORS, error_class="internal") == 1


SCRIPTS = {
    # id: (messages, close outcome or None)
    "resolved": (["hello", "where is order 12345?", "thanks, bye"], "resolved"),
    "asks-for-human": (["I want to talk to a human"], "resolved"),
    "complains-twice": (["I want to complain", "Still nothing works, I am fed up"], "abandoned"),
    "not-understood": (["mmmf grrk blat", "the the the", "blorp"], None),
    "too-long": (["hello", "where is order 12345?", "how much is shipping?", "hello"], None),
    "walks-away": (["hello"], "abandoned"),
}


def test_kpis_are_counted_correctly_for_scripted_conversations(redis_server):
    async def scenario():
        async with running_agent(redis_server.url, max_turns=4, low_confidence=0.32,
                                 low_confidence_turns=3, complaint_limit=2) as agent:
            escalated: dict[str, list[bool]] = {}
            for name, (messages, outcome) in SCRIPTS.items():
                cid = f"kpi-{name}-{time.monotonic_ns()}"
                escalated[name] = [(await agent.say(cid, m)).json()["escalated"] for m in messages]
                if outcome:
                    response = await agent.client.post(f"/v1/conversations/{cid}/close",
                                                       json={"outcome": outcome})
                    assert response.status_code == 200
                    again = await agent.client.post(f"/v1/conversations/{cid}/close", json={"outcome": outcome})
                    assert again.status_code == 200, "closing twice is harmless"
            return agent, escalated

    agent, escalated = run(scenario())
    assert escalated == {
        "resolved": [False, False, False],
        "asks-for-human": [True],
        "complains-twice": [False, True],
        "not-understood": [False, False, True],
        "too-long": [False, False, False, True],
        "walks-away": [False],
    }
    assert agent.value(c.CONVERSATIONS_STARTED) == len(SCRIPTS)
    assert {r: agent.value(c.ESCALATIONS, reason=r) for r in c.ESCALATION_REASONS} == {
        "user_request": 1, "repeated_complaint": 1, "low_confidence": 1, "max_turns": 1}
    assert {o: agent.value(c.CONVERSATIONS_ENDED, outcome=o) for o in c.OUTCOMES} == {
        "resolved": 1, "escalated": 2, "abandoned": 1, "timed_out": 0}
    assert agent.value(c.CONVERSATION_TURNS.count) == 4
    assert agent.value(c.CONVERSATION_TURNS.sum) == 3 + 1 + 2 + 1
    messages = sum(len(m) for m, _ in SCRIPTS.values())
    assert sum(agent.value(c.INTENTS_TOTAL, intent=i) for i in c.INTENTS) == messages
    assert agent.value(c.INTENT_CONFIDENCE.count) == messages


def test_the_batcher_batches_under_concurrent_load(redis_server):
    async def scenario():
        async with running_agent(redis_server.url, max_batch=8, max_wait_ms=20) as agent:
            responses = await asyncio.gather(*(agent.say(f"load-{i}", "where is order 12345?")
                                               for i in range(32)))
            return agent, responses

    agent, responses = run(scenario())
    assert all(r.status_code == 200 for r in responses)
    batches = agent.value(c.INFERENCE_BATCH_SIZE.count)
    assert agent.value(c.INFERENCE_BATCH_SIZE.sum) == 32
    assert batches < 32, "concurrent requests must share forward passes"
    assert agent.value(c.INFERENCE_BATCH_SIZE.bucket, le="1.0") < batches, "some batch held more than one"
    assert agent.value(c.INFERENCE_DURATION.count, model="all-MiniLM-L6-v2", operation="classify") == batches
    assert agent.value(c.QUEUE_WAIT.count) == 32
    assert agent.value(c.STATE_FETCH_DURATION.count) == 32 and agent.value(c.STATE_SAVE_DURATION.count) == 32


def test_one_trace_per_message_with_the_steps_in_order_and_no_text(redis_server):
    secret = "my secret order 99999 for Alice"

    async def scenario(capture: bool):
        async with running_agent(redis_server.url, capture_content=capture) as agent:
            await agent.say(f"trace-{capture}", secret)
            return agent.finished_spans()

    spans = run(scenario(False))
    server = [s for s in spans if s.kind.name == "SERVER"]
    assert len(server) == 1
    trace_spans = [s for s in spans if s.context.trace_id == server[0].context.trace_id]
    steps = [s.name for s in sorted(trace_spans, key=lambda s: s.start_time) if s.kind.name != "SERVER"]
    assert steps == ["state.fetch", "inference", "state.save"]
    assert all(s.parent.span_id == server[0].context.span_id for s in trace_spans if s is not server[0])
    inference = next(s for s in trace_spans if s.name == "inference")
    assert inference.kind.name == "INTERNAL"
    assert inference.attributes["gen_ai.request.model"] == "all-MiniLM-L6-v2"
    assert inference.attributes["gen_ai.usage.input_tokens"] > 0
    assert inference.attributes["agentwatch.queue.wait_seconds"] >= 0
    # Text leaks through string attributes (numbers such as a duration may hold any digits).
    assert "99999" not in json.dumps([[v for v in s.attributes.values() if isinstance(v, str)] for s in spans])
    captured = run(scenario(True))
    assert any(s.attributes.get("agentwatch.content.input") == secret for s in captured)


def test_metrics_expose_only_catalogue_names_with_every_closed_series_from_the_start(redis_server):
    async def scenario():
        async with running_agent(redis_server.url) as agent:
            return agent, (await agent.client.get("/metrics")).text

    agent, text = run(scenario())
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE agent_")}
    for family in families - {f for f in families if f.endswith("_created")}:
        c.by_name(family if family in c.CATALOGUE_BY_NAME else family + "_total")  # raises if unknown
    for error_class in c.ERROR_CLASSES:
        assert f'agent_errors_total{{error_class="{error_class}"}} 0.0' in text
    for intent in c.INTENTS:
        assert agent.tel.registry.get_sample_value(c.INTENTS_TOTAL.name, {"intent": intent}) == 0
    assert agent.value(c.MODEL_LOADED, model="all-MiniLM-L6-v2") == 1
    assert agent.value(c.COLD_START_DURATION) > 0
    assert agent.value(c.INFERENCE_DURATION.count, model="all-MiniLM-L6-v2", operation="warmup") == 1


@pytest.mark.parametrize(("faults", "status"), [
    ({"fault_error_ratio": 1.0}, 500),
    ({"fault_error_ratio": 0.0, "fault_latency_ms": 150, "fault_latency_ratio": 1.0}, 200),
], ids=["an error ratio of one fails every message with a real 500", "added latency delays every message"])
def test_fault_injection(redis_server, faults, status):
    async def scenario():
        async with running_agent(redis_server.url, **faults) as agent:
            start = time.perf_counter()
            response = await agent.say("fault-1", "hello")
            health = await agent.client.get("/readyz")
            return agent, response, time.perf_counter() - start, health

    agent, response, elapsed, health = run(scenario())
    assert health.status_code == 200, "faults hit messages, not probes"
    if status == 500:
        assert_error(response, 500, "injected_fault")
        assert agent.value(c.ERRORS, error_class="injected_fault") == 1
    else:
        assert response.status_code == 200 and elapsed >= 0.15


def test_a_hanging_redis_is_reported_by_readyz_within_the_probe_timeout():
    """A Redis that accepts connections and never answers (a blackholed network path) must not turn
    the readiness probe into a timeout, which would fail readiness after all."""
    import socket

    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(64)  # the kernel completes the handshakes; nobody ever reads or answers
        url = f"redis://127.0.0.1:{blackhole.getsockname()[1]}/0"

        async def scenario():
            async with running_agent(url, redis_timeout_ms=3000) as agent:
                start = time.perf_counter()
                ready = await agent.client.get("/readyz")
                return ready, time.perf_counter() - start

        ready, seconds = run(scenario())
    assert ready.status_code == 200 and ready.json()["checks"]["state_store"] == "unavailable"
    assert seconds < 1.5, f"answered within a probe's 2 s timeout: {seconds:.2f}s"
