"""Tail sampling in the process: failed and slow traces kept whole, the rest by trace-id ratio,
dropped traces never exported, exemplars naming kept traces only, memory bounded."""

from __future__ import annotations

import asyncio
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from agentwatch.local.otlp_receiver import OtlpReceiver
from agentwatch.telemetry import Telemetry, TelemetrySettings
from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry.sampling import KeepPolicy, TailSamplingSpanProcessor
from agentwatch.telemetry.spans import DeferredTracer

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
EXEMPLAR = re.compile(r'# \{[^}]*trace_id="([0-9a-f]{32})"[^}]*\}')
SLOW_SECONDS = 0.05


def telemetry(receiver: OtlpReceiver, keep_ratio: float) -> Telemetry:
    return Telemetry(TelemetrySettings.from_env(env={
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "AGENTWATCH_STRICT_LABELS": "true",
        "AGENTWATCH_TRACES_KEEP_RATIO": str(keep_ratio), "AGENTWATCH_TRACES_SLOW_SECONDS": str(SLOW_SECONDS)}))


def app_of(tel: Telemetry) -> FastAPI:
    """Routes answering fast, slowly, with a 500 and with a 4xx; each does one traced step and
    returns its trace id."""
    app = FastAPI()

    def step() -> str:
        with tel.span("state.fetch", metric=c.STATE_FETCH_DURATION):
            pass
        return format(trace.get_current_span().get_span_context().trace_id, "032x")

    @app.get("/ok")
    async def ok() -> dict:
        return {"trace_id": step()}

    @app.get("/slow")
    async def slow() -> dict:
        trace_id = step()
        await asyncio.sleep(SLOW_SECONDS * 2)
        return {"trace_id": trace_id}

    @app.get("/fail")
    async def fail() -> dict:
        step()
        raise RuntimeError("kaput")

    @app.get("/missing")
    async def missing() -> None:
        from fastapi import HTTPException

        step()
        raise HTTPException(404)

    tel.instrument_app(app)
    return app


def exemplar_trace_ids(client: TestClient) -> set[str]:
    body = client.get("/metrics", headers={"accept": OPENMETRICS}).text
    return {m.group(1) for line in body.splitlines() if (m := EXEMPLAR.search(line))}


def test_failed_and_slow_traces_are_kept_whole_and_ordinary_ones_never_exported():
    with OtlpReceiver() as receiver:
        tel = telemetry(receiver, keep_ratio=0.0)
        client = TestClient(app_of(tel), raise_server_exceptions=False)
        ordinary = [client.get("/ok").json()["trace_id"] for _ in range(20)]
        slow = [client.get("/slow").json()["trace_id"] for _ in range(3)]
        for _ in range(3):
            assert client.get("/fail").status_code == 500
            assert client.get("/missing").status_code == 404
        tel.shutdown()
        exemplars = exemplar_trace_ids(client)
    by_trace: dict[str, list[dict]] = {}
    for span in receiver.spans:
        by_trace.setdefault(span["trace_id"], []).append(span)
    failed = {t for t, spans in by_trace.items() if any(s["status"] == 2 for s in spans)}
    assert len(failed) == 3, "every 5xx trace is kept"
    assert set(slow) <= set(by_trace), "every trace slower than the threshold is kept"
    assert not set(ordinary) & set(by_trace), "fast successful traces are dropped at ratio 0"
    assert set(by_trace) == failed | set(slow), "a 4xx is the caller's: kept only by the ratio"
    for spans in by_trace.values():  # kept whole: the server span and its child
        assert sorted(s["name"] for s in spans)[1:] == ["state.fetch"] and len(spans) == 2
    assert exemplars and exemplars <= set(by_trace), "exemplars name exported traces only"
    assert tel.tail_sampler is not None
    assert tel.tail_sampler.kept == {"error": 3, "slow": 3, "probability": 0}
    assert tel.tail_sampler.dropped == 23
    # Dropped traces still count in the histograms, just without an exemplar.
    assert tel.registry.get_sample_value(c.STATE_FETCH_DURATION.count) == 29


def test_the_ratio_keeps_ordinary_traces_by_their_trace_id_and_exemplars_follow():
    with OtlpReceiver() as receiver:
        tel = telemetry(receiver, keep_ratio=0.5)
        client = TestClient(app_of(tel))
        ids = [client.get("/ok").json()["trace_id"] for _ in range(300)]
        tel.shutdown()
        exemplars = exemplar_trace_ids(client)
    exported = {s["trace_id"] for s in receiver.spans}
    expected = {t for t in ids if int(t, 16) & ((1 << 64) - 1) < 1 << 63}  # TraceIdRatioBased's rule
    assert exported == expected
    assert 0.35 < len(exported) / len(ids) < 0.65
    assert exemplars and exemplars <= exported


def test_head_sampling_with_the_standard_variables_replaces_tail_sampling():
    with OtlpReceiver() as receiver:
        tel = Telemetry(TelemetrySettings.from_env(env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                                                        "OTEL_TRACES_SAMPLER": "parentbased_always_on"}))
        assert tel.tail_sampler is None
        client = TestClient(app_of(tel))
        ids = {client.get("/ok").json()["trace_id"] for _ in range(5)}
        tel.shutdown()
    assert {s["trace_id"] for s in receiver.spans} == ids


def test_a_callers_unsampled_trace_records_nothing():
    with OtlpReceiver() as receiver:
        tel = telemetry(receiver, keep_ratio=1.0)
        client = TestClient(app_of(tel))
        header = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}
        assert client.get("/ok", headers=header).status_code == 200
        tel.shutdown()
    assert receiver.spans == []


def _tracer(max_traces: int = 4096, keep_ratio: float = 1.0) -> tuple[DeferredTracer, InMemorySpanExporter,
                                                                       TailSamplingSpanProcessor]:
    exporter = InMemorySpanExporter()
    sampler = TailSamplingSpanProcessor([SimpleSpanProcessor(exporter)], KeepPolicy(keep_ratio, 1.0),
                                        max_traces=max_traces)
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    return DeferredTracer(sampler, Resource.create({}), InstrumentationScope("test")), exporter, sampler


def test_open_traces_are_bounded_and_an_overflowing_trace_keeps_only_what_its_root_decides():
    tracer, exporter, sampler = _tracer(max_traces=2)
    roots = [tracer.start_span(f"root-{i}", kind=SpanKind.SERVER) for i in range(3)]
    assert len(sampler._open) == 2 and sampler.overflow == 1
    for root in roots:
        child = tracer.start_span("child", context=trace.set_span_in_context(root))
        child.end()
        root.end()
    names = sorted(s.name for s in exporter.get_finished_spans())
    assert names == ["child", "child", "root-0", "root-1", "root-2"]  # root-2's child had no open trace
    assert sampler._open == {}


def test_a_child_ending_after_its_root_follows_the_roots_decision():
    tracer, exporter, _ = _tracer(keep_ratio=1.0)
    root = tracer.start_span("root")
    late = tracer.start_span("late", context=trace.set_span_in_context(root))
    root.end()
    late.end()
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["late", "root"]
    tracer, exporter, _ = _tracer(keep_ratio=0.0)
    root = tracer.start_span("root")
    late = tracer.start_span("late", context=trace.set_span_in_context(root))
    root.end()
    late.end()
    assert exporter.get_finished_spans() == ()


def test_a_deferred_span_exports_as_the_sdk_would_write_it():
    tracer, exporter, _ = _tracer()
    with tracer.start_as_current_span("work", attributes={"n": 1}) as span:
        span.set_attribute("ids", [1, 2])  # the SDK stores sequences as tuples
        span.add_event("checkpoint", {"step": 2})
        try:
            raise ValueError("nope")
        except ValueError as exc:
            span.record_exception(exc)
    (exported,) = exporter.get_finished_spans()
    assert exported.attributes == {"n": 1, "ids": (1, 2)}
    assert [e.name for e in exported.events] == ["checkpoint", "exception"]
    assert exported.events[1].attributes["exception.type"] == "ValueError"
    assert exported.events[1].attributes["exception.message"] == "nope"
    assert exported.end_time >= exported.start_time > 0
    assert exported.resource is not None and exported.instrumentation_scope.name == "test"


@pytest.mark.parametrize(("name", "raw"), [("AGENTWATCH_TRACES_KEEP_RATIO", "1.5"),
                                           ("AGENTWATCH_TRACES_KEEP_RATIO", "most"),
                                           ("AGENTWATCH_TRACES_SLOW_SECONDS", "0")])
def test_a_bad_sampling_setting_is_an_error_naming_the_variable(name, raw):
    with pytest.raises(ValueError, match=name):
        TelemetrySettings.from_env(env={name: raw})
