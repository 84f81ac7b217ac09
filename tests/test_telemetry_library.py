"""The library pieces an agent reuses, on a small FastAPI app of the test's own (no reference agent):
declared closed sets, error classes at the HTTP edge, the bounded batching queue (wait, batch size,
shedding as 429), and readiness tied to a model load and to dependencies."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from agentwatch.telemetry import (
    AppError,
    Batcher,
    ClosedSets,
    Readiness,
    Telemetry,
    TelemetrySettings,
    install_error_handling,
)
from agentwatch.telemetry import catalogue as c

SETS = ClosedSets(intents=("search", "chat"), error_classes={"tool_failed": 502, "no_match": 404},
                  models=("echo",), outcomes=("answered", "gave_up"))


class Ask(BaseModel):
    text: str


@dataclass
class Harness:
    client: httpx.AsyncClient
    tel: Telemetry
    batcher: Batcher[str, str]
    readiness: Readiness
    gate: threading.Event
    dependency: dict[str, bool]

    def value(self, metric: c.MetricDef | str, **labels: str) -> float:
        name = metric if isinstance(metric, str) else metric.name
        return self.tel.registry.get_sample_value(name, labels) or 0.0


@asynccontextmanager
async def harness(*, capacity: int = 4, max_batch: int = 4, start: bool = True) -> AsyncIterator[Harness]:
    tel = Telemetry(TelemetrySettings(strict_labels=True, export_traces=False), registry=CollectorRegistry())
    tel.declare(SETS)
    gate = threading.Event()
    gate.set()
    dependency = {"up": True}

    def run(texts: list[str]) -> list[str]:
        gate.wait(10)
        return [t.upper() for t in texts]

    batcher: Batcher[str, str] = Batcher(run, telemetry=tel, model="echo", max_batch=max_batch,
                                         max_wait_s=0.02, capacity=capacity)
    readiness = Readiness(tel)
    readiness.add_check("tool", lambda: dependency["up"], error_class="tool_failed", reason="the tool is down")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(lifespan=lifespan)

    @app.post("/ask")
    async def ask(body: Ask) -> dict:
        if body.text == "tool":
            raise AppError("tool_failed", "the tool did not answer")
        if body.text == "typo":
            raise AppError("tool_faild", "misspelt class")
        if body.text == "crash":
            raise RuntimeError("boom")
        return {"answer": await batcher.call(body.text, timeout_s=float(body.text.count("!")) or 5.0)}

    readiness.install(app)
    install_error_handling(app, tel, max_body_bytes=256)
    tel.instrument_app(app)
    async with app.router.lifespan_context(app):
        if start:
            async with readiness.loading("echo"):
                await batcher.run_once(["warm"])
            readiness.started()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            yield Harness(client, tel, batcher, readiness, gate, dependency)
    tel.shutdown()


def test_declare_replaces_the_reference_sets_and_starts_every_series_at_zero() -> None:
    tel = Telemetry(TelemetrySettings(strict_labels=True, export_traces=False), registry=CollectorRegistry())
    tel.metrics.inc(c.INTENTS_TOTAL, intent="refund")  # the reference agent's value, before declare
    tel.declare(SETS)
    with pytest.raises(ValueError, match="outside the closed set"):
        tel.metrics.inc(c.INTENTS_TOTAL, intent="refund")
    tel.metrics.inc(c.INTENTS_TOTAL, intent="search")
    get = tel.registry.get_sample_value
    assert get(c.ERRORS.name, {"error_class": "tool_failed"}) == 0
    assert get(c.ERRORS.name, {"error_class": "overloaded"}) == 0  # the library's own class
    assert get(c.CONVERSATIONS_ENDED.name, {"outcome": "gave_up"}) == 0
    assert get(c.INTENTS_TOTAL.name, {"intent": "search"}) == 1
    tel.metrics.allow("model", ["other-model"])  # models add to the per-process set
    tel.metrics.touch(c.INFERENCE_DURATION, model="echo", operation="embed")
    tel.shutdown()


def test_declared_error_classes_answer_with_their_status_and_count_once() -> None:
    async def go() -> None:
        async with harness() as h:
            response = await h.client.post("/ask", json={"text": "tool"})
            assert response.status_code == 502
            assert response.json() == {"error": {"class": "tool_failed", "message": "the tool did not answer"}}
            assert (await h.client.post("/ask", content=b"{")).json()["error"]["class"] == "bad_request"
            assert (await h.client.get("/nowhere")).status_code == 404
            assert (await h.client.get("/ask")).json()["error"]["class"] == "method_not_allowed"
            assert (await h.client.post("/ask", json={"text": "x" * 500})).status_code == 413
            crash = await h.client.post("/ask", json={"text": "crash"})
            assert crash.status_code == 500 and crash.json()["error"]["class"] == "internal"
            counts = {k: h.value(c.ERRORS.name, error_class=k)
                      for k in ("tool_failed", "bad_request", "route_not_found", "method_not_allowed",
                                "payload_too_large", "internal")}
            assert counts == dict.fromkeys(counts, 1.0)
            # A class nobody declared cannot mint a series: strict mode (tests) refuses it.
            assert (await h.client.post("/ask", json={"text": "typo"})).status_code == 500

    asyncio.run(go())


def test_the_queue_batches_waits_and_sheds_with_429() -> None:
    async def go() -> None:
        async with harness(capacity=4, max_batch=4) as h:
            h.gate.clear()  # the worker blocks on its first batch: everything else queues
            first = asyncio.create_task(h.client.post("/ask", json={"text": "a"}))
            await asyncio.sleep(0.2)
            queued = [asyncio.create_task(h.client.post("/ask", json={"text": f"q{i}"})) for i in range(4)]
            await asyncio.sleep(0.2)
            assert h.value(c.QUEUE_LENGTH) == 4 and h.value(c.QUEUE_CAPACITY) == 4
            shed = await h.client.post("/ask", json={"text": "late"})
            assert shed.status_code == 429 and shed.json()["error"]["class"] == "overloaded"
            assert int(shed.headers["retry-after"]) >= 1
            h.gate.set()
            answers = [r.json()["answer"] for r in await asyncio.gather(first, *queued)]
            assert answers == ["A", "Q0", "Q1", "Q2", "Q3"]
            assert h.value(c.QUEUE_LENGTH) == 0
            assert h.value(c.ERRORS.name, error_class="overloaded") == 1
            assert h.value(c.INFERENCE_BATCH_SIZE.name + "_bucket", le="4.0") == 2  # the first alone, then 4
            assert h.value(c.INFERENCE_BATCH_SIZE.name + "_bucket", le="2.0") == 1
            assert h.value(c.QUEUE_WAIT.name + "_count") == 5
            assert h.value(c.INFERENCE_DURATION.name + "_count", model="echo", operation="classify") == 2
            assert h.value(c.INFERENCE_DURATION.name + "_count", model="echo", operation="warmup") == 1

    asyncio.run(go())


def test_a_request_made_late_by_the_queue_ahead_of_it_is_shed_with_429() -> None:
    # The load made it late (others were queued ahead of it), not the model: overload, retry later.
    async def go() -> None:
        async with harness(max_batch=1) as h:
            h.gate.clear()
            blocker = asyncio.create_task(h.client.post("/ask", json={"text": "a"}))
            await asyncio.sleep(0.2)
            queued = [asyncio.create_task(h.client.post("/ask", json={"text": t})) for t in ("b", "c")]
            await asyncio.sleep(0.2)
            late = await h.client.post("/ask", json={"text": "hurry!"})  # one "!" = a 1 s deadline
            assert late.status_code == 429 and late.json()["error"]["class"] == "overloaded"
            assert int(late.headers["retry-after"]) >= 1
            h.gate.set()
            assert [(await t).status_code for t in (blocker, *queued)] == [200, 200, 200]
            assert h.value(c.QUEUE_LENGTH) == 0

    asyncio.run(go())


def test_a_request_late_behind_one_slow_batch_gets_504() -> None:
    # Nothing was queued ahead of it: the batch running alone outlasted its deadline, so the model is
    # too slow for it — an inference timeout, not load.
    async def go() -> None:
        async with harness() as h:
            h.gate.clear()
            blocker = asyncio.create_task(h.client.post("/ask", json={"text": "a"}))
            await asyncio.sleep(0.2)
            late = await h.client.post("/ask", json={"text": "hurry!"})  # one "!" = a 1 s deadline
            assert late.status_code == 504 and late.json()["error"]["class"] == "inference_timeout"
            assert h.value(c.QUEUE_LENGTH) == 0  # it left the queue when it gave up
            h.gate.set()
            assert (await blocker).status_code == 200

    asyncio.run(go())


def test_readiness_follows_the_model_load_and_the_dependency_checks() -> None:
    async def go() -> None:
        async with harness(start=False) as h:
            starting = await h.client.get("/readyz")
            assert starting.status_code == 503 and starting.json()["error"]["class"] == "model_not_loaded"
            assert (await h.client.get("/healthz")).status_code == 200
            assert h.value(c.MODEL_LOADED, model="echo") == 0 and h.value(c.READY) == 0
            async with h.readiness.loading("echo"):
                await asyncio.sleep(0.05)
            cold = h.readiness.started()
            assert cold > 0 and h.value(c.COLD_START_DURATION) == pytest.approx(cold)
            assert h.value(c.MODEL_LOADED, model="echo") == 1 and h.value(c.MODEL_LOAD_DURATION, model="echo") >= 0.05
            assert (await h.client.get("/readyz")).status_code == 200 and h.value(c.READY) == 1
            h.dependency["up"] = False
            down = await h.client.get("/readyz")
            assert down.status_code == 502 and down.json()["error"] == {"class": "tool_failed",
                                                                       "message": "the tool is down"}
            assert h.value(c.READY) == 0

    asyncio.run(go())


def test_a_failed_model_load_makes_the_process_unhealthy() -> None:
    async def go() -> None:
        async with harness(start=False) as h:
            with pytest.raises(OSError):
                async with h.readiness.loading("echo"):
                    raise OSError("weights missing")
            health = await h.client.get("/healthz")
            assert health.status_code == 503 and "weights missing" in health.json()["error"]["message"]
            assert h.value(c.MODEL_LOADED, model="echo") == 0
            with pytest.raises(RuntimeError, match="weights missing"):
                await h.readiness.wait(1)

    asyncio.run(go())
