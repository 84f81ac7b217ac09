"""No conversation text and no Redis credential leaves the agent, unless content capture is on.

Two real agent processes export spans to a real OTLP receiver. With the defaults (and debug logs,
the chattiest setting) a canary string sent as message text must not appear in any exported span
(attributes, events, exception stack traces), log line or metric; the Redis password in
``REDIS_URL`` must appear nowhere either — also not in the 503 bodies of a Redis outage. With
``AGENTWATCH_CAPTURE_CONTENT=true`` the canary is in the spans. The default agent also serves its
probes and ``/metrics`` on ``AGENT_ADMIN_PORT``, and not on the API port.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time

import httpx
import pytest

from agentwatch.bench.harness import start_all
from agentwatch.local.otlp_receiver import OtlpReceiver
from agentwatch.local.processes import AgentProcess, RedisServer, free_port

pytestmark = [pytest.mark.live, pytest.mark.model]

CANARY = "CANARY-7f3a9c my card is 4111 1111 1111 1111"
PASSWORD = "pw-Secret-91e2b"


class DebugAgent(AgentProcess):
    def command(self) -> list[str]:
        return [*super().command(), "--log-level", "debug"]


def _stop(agent: AgentProcess) -> None:
    """SIGTERM and wait: the span exporter flushes on the way out."""
    assert agent.process is not None
    os.kill(agent.process.pid, signal.SIGTERM)
    agent.process.wait(timeout=30)


def test_no_text_or_credential_leaves_the_agent_by_default_and_capture_is_opt_in() -> None:
    with RedisServer(password=PASSWORD) as redis, OtlpReceiver() as plain_rx, OtlpReceiver() as capture_rx, \
            contextlib.ExitStack() as stack:
        base = {"REDIS_URL": redis.url, "AGENTWATCH_STRICT_LABELS": "true", "OTEL_BSP_SCHEDULE_DELAY": "200",
                # Every trace exported: a search of the spans for the canary must have spans to search.
                "AGENTWATCH_TRACES_KEEP_RATIO": "1"}
        plain, capture = start_all(stack, [
            DebugAgent(env={**base, "OTEL_EXPORTER_OTLP_ENDPOINT": plain_rx.endpoint,
                            "AGENT_ADMIN_PORT": str(free_port())}),
            AgentProcess(env={**base, "OTEL_EXPORTER_OTLP_ENDPOINT": capture_rx.endpoint,
                              "AGENTWATCH_CAPTURE_CONTENT": "true"})])
        bodies: list[str] = []
        with httpx.Client(timeout=30) as client:
            for url in (plain.url, capture.url):
                for i, text in enumerate([CANARY, f"I want to talk to a human, {CANARY}", f"refund {CANARY}"]):
                    response = client.post(f"{url}/v1/conversations/privacy-{i}/messages", json={"text": text},
                                           headers={"user-agent": CANARY})
                    assert response.status_code == 200, response.text
                    bodies.append(response.text)
            bad = client.post(f"{plain.url}/v1/conversations/privacy-0/messages", json={"text": 5, "x": CANARY})
            assert bad.status_code == 400 and CANARY not in bad.text
            admin = plain.admin_url
            metrics = client.get(f"{admin}/metrics").text
            assert client.get(f"{admin}/readyz").status_code == 200
            assert client.get(f"{plain.url}/metrics").status_code == 404, "the API port serves no metrics"
            assert client.get(f"{plain.url}/readyz").json()["error"]["class"] == "route_not_found"
            redis.stop()
            outage = [client.post(f"{plain.url}/v1/conversations/privacy-9/messages", json={"text": CANARY})
                      for _ in range(3)]
            ready_in_outage = client.get(f"{admin}/readyz")
            redis.start()
            time.sleep(0.3)  # let the last spans leave the batch processor's queue
        _stop(plain)
        _stop(capture)
        plain_log, capture_log = plain.output(), capture.output()
        plain_spans, captured_spans = json.dumps(plain_rx.spans), json.dumps(capture_rx.spans)

    assert {r.status_code for r in outage} == {503}
    assert all(r.json()["error"]["class"] == "state_store_unavailable" for r in outage)
    assert ready_in_outage.json()["checks"]["state_store"] == "unavailable"
    assert plain_rx.spans and any(s["name"] == "inference" for s in plain_rx.spans)
    for where, text in [("exported spans", plain_spans), ("logs (debug)", plain_log), ("metrics", metrics),
                        ("outage bodies", " ".join(r.text for r in outage)),
                        ("readiness in the outage", ready_in_outage.text)]:
        assert CANARY[:12] not in text, f"message text in {where}"
        assert PASSWORD not in text, f"the Redis password in {where}"
    assert "state_store_unavailable" in plain_spans, "the outage itself is traced, without the secret"
    assert PASSWORD not in capture_log and PASSWORD not in captured_spans
    assert CANARY in captured_spans, "AGENTWATCH_CAPTURE_CONTENT=true puts the text in the spans"
    assert CANARY[:12] not in capture_log, "capture is for spans; the agent never logs message text"
