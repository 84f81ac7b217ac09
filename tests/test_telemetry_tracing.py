"""Traces really exported over OTLP/HTTP, exemplars pointing at them, logs carrying their ids."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agentwatch.local.otlp_receiver import OtlpReceiver
from agentwatch.telemetry import Telemetry, TelemetrySettings, configure_logging, genai
from agentwatch.telemetry import catalogue as c

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
EXEMPLAR = re.compile(r'# \{[^}]*trace_id="([0-9a-f]{32})"[^}]*\}')


@pytest.fixture
def receiver():
    with OtlpReceiver() as rx:
        yield rx


def traced_app(tel: Telemetry) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/echo/{item}")
    async def echo(item: str, payload: dict) -> dict:
        with tel.span("state.fetch", metric=c.STATE_FETCH_DURATION,
                      attributes={"conversation.text": tel.content(payload["text"])}):
            logging.getLogger("test.app").info("fetched", extra={"item_len": len(item)})
        with tel.span("inference", metric=c.INFERENCE_DURATION, labels={"model": "tiny", "operation": "classify"},
                      attributes=genai.inference_attributes("classify", "tiny", batch_size=1)):
            pass
        return {"ok": True}

    tel.metrics.allow("model", ["tiny"])
    tel.instrument_app(app)
    return app


def make_telemetry(receiver: OtlpReceiver, keep_ratio: str = "1", **overrides: object) -> Telemetry:
    """Telemetry exporting to ``receiver``; tail sampling keeping every trace unless told otherwise."""
    settings = TelemetrySettings.from_env(
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "AGENTWATCH_STRICT_LABELS": "true",
             "AGENTWATCH_TRACES_KEEP_RATIO": keep_ratio},
        **overrides)
    return Telemetry(settings)


def test_exemplar_carries_the_trace_id_of_a_span_really_exported(receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    tel = make_telemetry(receiver)
    client = TestClient(traced_app(tel))
    assert client.post("/v1/echo/a", json={"text": "my card number is 1234"}).status_code == 200
    tel.shutdown()
    body = client.get("/metrics", headers={"accept": OPENMETRICS}).text
    exemplars = {m.group(1) for line in body.splitlines()
                 if line.startswith(c.REQUEST_DURATION.bucket) and (m := EXEMPLAR.search(line))}
    assert len(exemplars) == 1
    exported = {s["trace_id"] for s in receiver.spans}
    assert exemplars <= exported
    names = {s["name"] for s in receiver.spans}
    assert {"state.fetch", "inference"} <= names
    assert all(s["resource"]["service.name"] == "agentwatch-agent" for s in receiver.spans)


def test_plain_text_scrape_has_no_exemplars(receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    tel = make_telemetry(receiver)
    client = TestClient(traced_app(tel))
    client.post("/v1/echo/a", json={"text": "x"})
    tel.shutdown()
    assert "trace_id" not in client.get("/metrics").text


@pytest.mark.parametrize("mode", ["lean", "contrib"], ids=["lean middleware", "contrib FastAPIInstrumentor"])
def test_server_span_is_lean_and_probes_are_not_traced(receiver, monkeypatch, mode):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    tel = make_telemetry(receiver, fastapi_instrumentation=mode)
    app = traced_app(tel)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {}

    client = TestClient(app)
    client.get("/healthz")
    client.get("/metrics")
    client.post("/v1/echo/a", json={"text": "x"})
    tel.shutdown()
    names = [s["name"] for s in receiver.spans]
    assert not any("receive" in n or "send" in n for n in names), names
    assert not any("metrics" in n or "healthz" in n for n in names), names
    server = [s for s in receiver.spans if s["kind"] == 2]  # SPAN_KIND_SERVER
    assert [s["name"] for s in server] == ["POST /v1/echo/{item}"]
    children = [s for s in receiver.spans if s["kind"] != 2]
    assert {s["parent_span_id"] for s in children} == {server[0]["span_id"]}
    assert server[0]["attributes"]["http.route"] == "/v1/echo/{item}"
    attributes = server[0]["attributes"]  # contrib still defaults to the old http.status_code name
    assert attributes.get("http.response.status_code", attributes.get("http.status_code")) == 200


@pytest.mark.parametrize("mode", ["lean", "contrib"], ids=["lean middleware", "contrib FastAPIInstrumentor"])
def test_a_callers_trace_context_is_continued_and_5xx_marks_the_span_failed(receiver, monkeypatch, mode):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    tel = make_telemetry(receiver, fastapi_instrumentation=mode)
    app = FastAPI()

    @app.get("/boom")
    async def boom() -> dict:
        raise RuntimeError("kaput")

    tel.instrument_app(app)
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/boom", headers={"traceparent": f"00-{caller_trace}-{caller_span}-01"})
    assert response.status_code == 500
    tel.shutdown()
    (server,) = [s for s in receiver.spans if s["kind"] == 2]
    assert server["trace_id"] == caller_trace
    assert server["parent_span_id"] == caller_span
    assert server["status"] == 2  # STATUS_CODE_ERROR
    assert tel.registry.get_sample_value(
        c.REQUEST_DURATION.count, {"route": "/boom", "method": "GET", "code": "500"}) == 1


@pytest.mark.parametrize(("opt_in", "captured"), [("false", False), ("true", True)],
                         ids=["content capture off by default", "content captured when opted in"])
def test_conversation_text_enters_spans_only_when_opted_in(receiver, monkeypatch, opt_in, captured):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    tel = Telemetry(TelemetrySettings.from_env(env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                                                    "AGENTWATCH_CAPTURE_CONTENT": opt_in,
                                                    "AGENTWATCH_TRACES_KEEP_RATIO": "1"}))
    assert TelemetrySettings.from_env(env={}).capture_content is False
    client = TestClient(traced_app(tel))
    client.post("/v1/echo/a", json={"text": "secret words"})
    tel.shutdown()
    dumped = json.dumps(receiver.spans)
    assert ("secret words" in dumped) is captured


def test_a_failed_span_carries_error_type_from_the_closed_set(receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    tel = make_telemetry(receiver)

    class Timeout(Exception):
        error_class = "inference_timeout"

    with pytest.raises(Timeout), tel.span("inference", metric=c.QUEUE_WAIT):
        raise Timeout
    tel.shutdown()
    (span,) = receiver.spans
    assert span["status"] == 2  # STATUS_CODE_ERROR
    assert span["attributes"][genai.ERROR_TYPE] == "inference_timeout"
    assert tel.registry.get_sample_value(c.QUEUE_WAIT.count) == 1


def test_json_log_lines_carry_the_active_trace_id(receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    stream = io.StringIO()
    handler = configure_logging("INFO", stream)
    try:
        tel = make_telemetry(receiver)
        client = TestClient(traced_app(tel))
        client.post("/v1/echo/a", json={"text": "x"})
        logging.getLogger("test.outside").info("no span here")
        tel.shutdown()
    finally:
        logging.getLogger().removeHandler(handler)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    inside = next(r for r in records if r["message"] == "fetched")
    outside = next(r for r in records if r["message"] == "no span here")
    fetch = next(s for s in receiver.spans if s["name"] == "state.fetch")
    assert inside["trace_id"] == fetch["trace_id"]
    assert inside["span_id"] == fetch["span_id"]
    assert inside["item_len"] == 1
    assert "trace_id" not in outside


def test_head_sampling_ratio_zero_exports_nothing_and_leaves_no_exemplar(receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    tel = Telemetry(TelemetrySettings.from_env(env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                                                    "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                                                    "OTEL_TRACES_SAMPLER_ARG": "0"}))
    assert tel.tail_sampler is None
    client = TestClient(traced_app(tel))
    client.post("/v1/echo/a", json={"text": "x"})
    tel.shutdown()
    assert receiver.spans == []
    assert "trace_id" not in client.get("/metrics", headers={"accept": OPENMETRICS}).text
    assert tel.registry.get_sample_value(c.STATE_FETCH_DURATION.count) == 1


_NATIVE_PROBE = """
import sys
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from agentwatch.telemetry import Telemetry, TelemetrySettings

global_spans = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(global_spans))
trace.set_tracer_provider(provider)  # what auto-instrumentation or another library does
ours = InMemorySpanExporter()
tel = Telemetry(TelemetrySettings.from_env(env={"AGENTWATCH_TRACES_KEEP_RATIO": "1"}), span_exporters=[ours])
app = FastAPI()

@app.get("/v1/items/{item}")
async def item(item: str) -> dict:
    return {"item": item}

if sys.argv[1] == "instrumented":
    tel.instrument_app(app)
assert TestClient(app).get("/v1/items/a").status_code == 200
tel.shutdown()
print(len(global_spans.get_finished_spans()), len(ours.get_finished_spans()))
"""


@pytest.mark.parametrize("variant", ["instrumented", "plain"])
def test_fastapis_own_request_telemetry_is_switched_off_so_a_request_is_traced_once(variant):
    """FastAPI (0.142+) traces requests itself once a global provider exists; instrument_app must
    leave one server span per request, ours. The plain app shows FastAPI's would have been there."""
    import subprocess
    import sys

    import fastapi

    out = subprocess.run([sys.executable, "-c", _NATIVE_PROBE, variant], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    global_spans, our_spans = int(out[-2]), int(out[-1])
    if variant == "instrumented":
        assert (global_spans, our_spans) == (0, 1)
    elif hasattr(fastapi.FastAPI(), "_native_telemetry"):
        assert global_spans >= 1 and our_spans == 0, "FastAPI's native telemetry did not trace the plain app"
    else:
        pytest.skip("this FastAPI has no native telemetry")
