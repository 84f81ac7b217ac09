"""Catalogue metrics on a prometheus_client registry, with label guards and trace exemplars.

Usage::

    metrics = Metrics(CollectorRegistry(), strict=False)
    metrics.observe(c.QUEUE_WAIT, 0.012)            # exemplar: the current trace, if it is exported
    metrics.inc(c.ERRORS, error_class="overloaded")
    metrics.set(c.QUEUE_LENGTH, 3)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from agentwatch.telemetry.catalogue import EXEMPLAR_SPAN_ID, EXEMPLAR_TRACE_ID, METRICS, MetricDef
from agentwatch.telemetry.labels import LabelPolicy

__all__ = ["EXEMPLAR_TRACE_ID", "ExemplarPolicy", "HeadSampledExemplars", "Metrics", "current_exemplar",
           "exemplar_of"]

#: Labelled children cached per (metric, label values); the key space is closed anyway.
_CHILD_CACHE_SIZE = 4096


def exemplar_of(span: trace.Span) -> dict[str, str] | None:
    """Trace and span id of ``span`` if it is sampled (unsampled traces are never stored)."""
    ctx = span.get_span_context()
    if not ctx.trace_flags.sampled or not ctx.is_valid:
        return None
    return {EXEMPLAR_TRACE_ID: format(ctx.trace_id, "032x"), EXEMPLAR_SPAN_ID: format(ctx.span_id, "016x")}


def current_exemplar() -> dict[str, str] | None:
    """The exemplar of the active span, if it is sampled (head sampling: it will be exported).

    Under the default tail sampling a sampled span may still be dropped: record through
    :meth:`Metrics.observe` instead, which attaches the exemplar only once the trace is kept.
    """
    return exemplar_of(trace.get_current_span())


class ExemplarPolicy(Protocol):
    """Observes a value on a histogram child, with ``span``'s trace as exemplar when it is exported."""

    def observe(self, child: Any, value: float, span: trace.Span) -> None: ...


class HeadSampledExemplars:
    """Head sampling: a span sampled at its start is exported, so its ids are a valid exemplar."""

    def observe(self, child: Any, value: float, span: trace.Span) -> None:
        child.observe(value, exemplar_of(span))


def _build(metric: MetricDef, registry: CollectorRegistry) -> MetricWrapperBase:
    # prometheus_client appends the unit to the name unless it is already the suffix.
    unit = metric.unit if metric.name.removesuffix("_total").endswith("_" + metric.unit) else ""
    common = {"name": metric.name, "documentation": metric.help, "labelnames": metric.labels,
              "registry": registry, "unit": unit}
    if metric.kind == "counter":
        return Counter(**common)
    if metric.kind == "gauge":
        return Gauge(**common)
    return Histogram(**common, buckets=metric.buckets)


class Metrics:
    """Every catalogue metric, created once on ``registry``; recording is a no-op when disabled."""

    def __init__(self, registry: CollectorRegistry, *, strict: bool = False, enabled: bool = True,
                 metrics: Iterable[MetricDef] = METRICS, exemplars: ExemplarPolicy | None = None) -> None:
        self.registry = registry
        self.enabled = enabled
        #: Decides which trace id an observation carries; the tail sampler when it is on.
        self.exemplars: ExemplarPolicy = exemplars or HeadSampledExemplars()
        self.policy = LabelPolicy(strict)
        self._children: dict[tuple[Any, ...], MetricWrapperBase] = {}
        self._metrics: dict[str, tuple[MetricDef, MetricWrapperBase]] = {
            m.name: (m, _build(m, registry)) for m in metrics
        }

    def forget_children(self) -> None:
        """Drop the cached label children (after the closed sets change)."""
        self._children.clear()

    def allow(self, label: str, values: Iterable[str]) -> None:
        """Register per-process label values (``route``, ``model``, ``version``) at start-up."""
        self.policy.allow(label, values)
        self._children.clear()  # a value folded into "other" before may now be allowed

    def child(self, metric: MetricDef, **labels: str) -> MetricWrapperBase:
        """The label-checked prometheus_client child, for hot paths that cache it.

        Recording on it bypasses the off switch: callers check ``enabled`` once, up front.
        """
        return self._child(metric, labels)

    def _child(self, metric: MetricDef, labels: dict[str, str]) -> MetricWrapperBase:
        if labels:  # checked children are cached: the label sets are closed, the cache is bounded too
            key = (metric.name, *labels.items())
            cached = self._children.get(key)
            if cached is not None:
                return cached
        try:
            definition, wrapper = self._metrics[metric.name]
        except KeyError:
            raise KeyError(f"{metric.name} is not registered on this Metrics") from None
        if not definition.labels:
            if labels:
                raise ValueError(f"{metric.name} takes no labels, got {sorted(labels)}")
            return wrapper
        child = wrapper.labels(*self.policy.check(metric.name, labels, definition.labels))
        if len(self._children) < _CHILD_CACHE_SIZE:
            self._children[key] = child
        return child

    def observe(self, metric: MetricDef, value: float, **labels: str) -> None:
        """Observe a histogram value, with the active trace as exemplar if that trace is exported."""
        if self.enabled:
            self.exemplars.observe(self._child(metric, labels), value, trace.get_current_span())

    def observe_child(self, child: Any, value: float, span: trace.Span) -> None:
        """Observe on a cached child (:meth:`child`) with ``span``'s trace as exemplar if exported."""
        self.exemplars.observe(child, value, span)

    def inc(self, metric: MetricDef, amount: float = 1.0, **labels: str) -> None:
        """Increment a counter (``amount=0`` creates the series without counting)."""
        if self.enabled:
            self._child(metric, labels).inc(amount)

    def set(self, metric: MetricDef, value: float, **labels: str) -> None:
        if self.enabled:
            self._child(metric, labels).set(value)

    def add(self, metric: MetricDef, amount: float, **labels: str) -> None:
        """Add to a gauge (negative to subtract)."""
        if self.enabled:
            self._child(metric, labels).inc(amount)

    def clear(self, metric: MetricDef) -> None:
        """Remove every labelled series of ``metric`` (info metrics restated with new labels)."""
        self._children.clear()
        self._metrics[metric.name][1].clear()

    def touch(self, metric: MetricDef, **labels: str) -> None:
        """Create a series without recording a value, so rate() and dashboards see it from start."""
        if self.enabled:
            self._child(metric, labels)
