"""Catalogue metrics on a prometheus_client registry, with label guards and trace exemplars.

Usage::

    metrics = Metrics(CollectorRegistry(), strict=False)
    metrics.observe(c.QUEUE_WAIT, 0.012)            # exemplar: current sampled trace id
    metrics.inc(c.ERRORS, error_class="overloaded")
    metrics.set(c.QUEUE_LENGTH, 3)
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from agentwatch.telemetry.catalogue import EXEMPLAR_SPAN_ID, EXEMPLAR_TRACE_ID, METRICS, MetricDef
from agentwatch.telemetry.labels import LabelPolicy

__all__ = ["EXEMPLAR_TRACE_ID", "Metrics", "current_exemplar", "exemplar_of"]



def exemplar_of(span: trace.Span) -> dict[str, str] | None:
    """Trace and span id of ``span`` if it is sampled (unsampled traces are never stored)."""
    ctx = span.get_span_context()
    if not ctx.trace_flags.sampled or not ctx.is_valid:
        return None
    return {EXEMPLAR_TRACE_ID: format(ctx.trace_id, "032x"), EXEMPLAR_SPAN_ID: format(ctx.span_id, "016x")}


def current_exemplar() -> dict[str, str] | None:
    """The exemplar of the active span, if it is sampled."""
    return exemplar_of(trace.get_current_span())


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
                 metrics: Iterable[MetricDef] = METRICS) -> None:
        self.registry = registry
        self.enabled = enabled
        self.policy = LabelPolicy(strict)
        self._metrics: dict[str, tuple[MetricDef, MetricWrapperBase]] = {
            m.name: (m, _build(m, registry)) for m in metrics
        }

    def allow(self, label: str, values: Iterable[str]) -> None:
        """Register per-process label values (``route``, ``model``, ``version``) at start-up."""
        self.policy.allow(label, values)

    def child(self, metric: MetricDef, **labels: str) -> MetricWrapperBase:
        """The label-checked prometheus_client child, for hot paths that cache it.

        Recording on it bypasses the off switch: callers check ``enabled`` once, up front.
        """
        return self._child(metric, labels)

    def _child(self, metric: MetricDef, labels: dict[str, str]) -> MetricWrapperBase:
        try:
            definition, wrapper = self._metrics[metric.name]
        except KeyError:
            raise KeyError(f"{metric.name} is not registered on this Metrics") from None
        if not definition.labels:
            if labels:
                raise ValueError(f"{metric.name} takes no labels, got {sorted(labels)}")
            return wrapper
        return wrapper.labels(*self.policy.check(metric.name, labels, definition.labels))

    def observe(self, metric: MetricDef, value: float, **labels: str) -> None:
        """Observe a histogram value, with the active trace as exemplar."""
        if self.enabled:
            self._child(metric, labels).observe(value, exemplar=current_exemplar())

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
        self._metrics[metric.name][1].clear()

    def touch(self, metric: MetricDef, **labels: str) -> None:
        """Create a series without recording a value, so rate() and dashboards see it from start."""
        if self.enabled:
            self._child(metric, labels)
