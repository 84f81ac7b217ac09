"""``Telemetry``: one object an agent holds for metrics, traces and content policy.

Usage::

    tel = Telemetry(TelemetrySettings.from_env(service_name="my-agent"))
    tel.declare(ClosedSets(intents=("search",), error_classes={"tool_failed": 502}))  # or spec.closed_sets
    with tel.span("state.fetch", metric=c.STATE_FETCH_DURATION):
        turns = store.recent(conversation_id)
    tel.instrument_app(app)   # FastAPI: server spans, request metrics, /metrics
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NoOpTracerProvider, Span, SpanKind, Status, StatusCode
from prometheus_client import CollectorRegistry
from prometheus_client.process_collector import ProcessCollector

from agentwatch import __version__
from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry import genai
from agentwatch.telemetry.catalogue import BUILD_INFO, MetricDef
from agentwatch.telemetry.closed_sets import ClosedSets
from agentwatch.telemetry.metrics import Metrics
from agentwatch.telemetry.sampling import TailSamplingSpanProcessor
from agentwatch.telemetry.settings import TelemetrySettings
from agentwatch.telemetry.spans import DeferredTracer
from agentwatch.telemetry.tracing import build_tracer_provider

__all__ = ["Telemetry"]


class Telemetry:
    """Metrics on an injectable registry and a tracer, both switched off by ``settings.enabled``."""

    def __init__(self, settings: TelemetrySettings | None = None, *,
                 registry: CollectorRegistry | None = None,
                 span_exporters: Sequence[SpanExporter] = ()) -> None:
        self.settings = settings or TelemetrySettings.from_env()
        if registry is None:
            registry = CollectorRegistry()
            ProcessCollector(registry=registry)  # process_cpu_seconds_total, RSS: capacity panels
        self.registry = registry
        self.metrics = Metrics(registry, strict=self.settings.strict_labels, enabled=self.settings.enabled)
        self.set_build_info()
        #: The closed label values in force: the reference agent's until :meth:`declare` is called.
        self.closed_sets = ClosedSets.reference()
        #: The in-process tail sampler (``None``: head sampling, or telemetry off).
        self.tail_sampler: TailSamplingSpanProcessor | None = None
        if self.settings.enabled:
            self.tracer_provider: trace.TracerProvider
            self.tracer_provider, self.tail_sampler = build_tracer_provider(self.settings, span_exporters)
        else:
            self.tracer_provider = NoOpTracerProvider()
        if self.tail_sampler is not None:
            assert isinstance(self.tracer_provider, TracerProvider)
            self.metrics.exemplars = self.tail_sampler  # exemplars wait for their trace's decision
            # Spans as plain data, built as SDK spans only for kept traces (see spans.py).
            self.tracer: trace.Tracer = DeferredTracer(
                self.tail_sampler, self.tracer_provider.resource,
                InstrumentationScope("agentwatch", self.settings.service_version))
        else:
            self.tracer = self.tracer_provider.get_tracer("agentwatch", self.settings.service_version)

    def set_build_info(self, *, model: str = "", model_revision: str = "") -> None:
        """(Re)state ``agent_build_info``: exactly one series per process, so joins on it
        (``* on (job, instance) group_left (version) agent_build_info``) stay one-to-one.

        Telemetry sets the versions at start; an agent adds the model it serves once it knows it.
        """
        labels = {"version": self.settings.service_version, "agentwatch_version": __version__,
                  "model": model, "model_revision": model_revision}
        for name, value in labels.items():
            self.metrics.allow(name, [value])
        self.metrics.clear(BUILD_INFO)
        self.metrics.set(BUILD_INFO, 1, **labels)

    def declare(self, sets: ClosedSets) -> ClosedSets:
        """Declare the application's closed label values, once at start-up.

        Replaces the reference agent's intents, error classes (the library's own stay), outcomes and
        escalation reasons; adds ``models``. Each declared value's counter series starts at 0, so
        ``rate()`` and dashboards see it from the first scrape. Pass ``spec.closed_sets`` to use the
        values the spec's ``application:`` section declares (the ones the generators read).
        """
        values = sets.values()
        for label, declared in values.items():
            if c.LABELS[label].values is None:  # closed per process (models): add to what is allowed
                self.metrics.allow(label, declared)
            else:
                self.metrics.policy.declare(label, declared)
        self.metrics.forget_children()  # values folded into "other" before may be declared now
        self.closed_sets = sets
        for metric in (c.ERRORS, c.CONVERSATIONS_ENDED, c.ESCALATIONS, c.INTENTS_TOTAL):
            (label,) = metric.labels
            for value in values[label]:
                self.metrics.inc(metric, 0, **{label: value})
        return sets

    def span(self, name: str, *, metric: MetricDef | None = None, labels: Mapping[str, str] | None = None,
             attributes: Mapping[str, Any] | None = None, kind: SpanKind = SpanKind.INTERNAL) -> _SpanScope:
        """Open a span and, on exit, observe its duration on ``metric`` — one clock, so they agree.

        Use as ``with tel.span(...) as span:``. An exception marks the span failed with
        ``error.type`` from ``exc.error_class`` (or ``internal``) and is re-raised; the duration is
        recorded either way.
        """
        return _SpanScope(self, name, metric, labels, attributes, kind)

    @staticmethod
    def set_error(span: Span, error_class: str) -> None:
        """Mark ``span`` failed with ``error.type`` = ``error_class`` (the closed error set)."""
        if span.is_recording():
            span.set_status(Status(StatusCode.ERROR, error_class))
            span.set_attribute(genai.ERROR_TYPE, error_class)

    def content(self, text: str) -> str | None:
        """``text`` if the operator opted in to content capture, else ``None``; use for every
        span attribute or log field that would hold conversation text."""
        return text if self.settings.capture_content else None

    def instrument_app(self, app: Any, *, excluded_paths: Sequence[str] = ("/metrics", "/healthz", "/readyz"),
                       metrics_path: str = "/metrics") -> None:
        """Instrument a FastAPI app: see :func:`agentwatch.telemetry.fastapi.instrument_app`."""
        from agentwatch.telemetry.fastapi import instrument_app

        instrument_app(app, self, excluded_paths=excluded_paths, metrics_path=metrics_path)

    def shutdown(self) -> None:
        """Flush and stop span export."""
        shutdown = getattr(self.tracer_provider, "shutdown", None)
        if shutdown is not None:
            shutdown()


class _SpanScope:
    """The context manager :meth:`Telemetry.span` returns: a class rather than a ``@contextmanager``
    generator, which costs a few microseconds more on every span of the message path."""

    __slots__ = ("attributes", "kind", "labels", "metric", "name", "span", "start", "tel", "token")

    def __init__(self, tel: Telemetry, name: str, metric: MetricDef | None, labels: Mapping[str, str] | None,
                 attributes: Mapping[str, Any] | None, kind: SpanKind) -> None:
        self.tel, self.name, self.metric, self.labels, self.attributes, self.kind = (
            tel, name, metric, labels, attributes, kind)

    def __enter__(self) -> Span:
        self.start = time.perf_counter()
        # start_span + attach: the same as start_as_current_span, without its layers of wrappers.
        self.span = span = self.tel.tracer.start_span(self.name, kind=self.kind, attributes=self.attributes)
        self.token = otel_context.attach(trace.set_span_in_context(span))
        return span

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        span, tel = self.span, self.tel
        if exc is not None and span.is_recording():
            span.record_exception(exc)
            tel.set_error(span, getattr(exc, "error_class", "internal"))
        if self.metric is not None and tel.metrics.enabled:
            tel.metrics.exemplars.observe(tel.metrics.child(self.metric, **(self.labels or {})),
                                          time.perf_counter() - self.start, span)
        otel_context.detach(self.token)
        span.end()
