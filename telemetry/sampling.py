"""Tail sampling inside the process: a trace is kept or dropped when its local root span ends.

Head sampling decides before a request has done anything, so it keeps a random share of the
failures and slow requests too; sampling in the Collector needs every span encoded and sent first
(the serving process pays for the 90 % that are then thrown away). Here the decision is taken
where all the facts are, for free: when the request's root span ends, the trace is kept

* always when it failed: a span of it ended with status ERROR, or the root answered 5xx;
* always when the root took longer than ``slow_seconds`` (the spec's strictest latency-SLO
  threshold: every request that burns latency budget keeps its trace);
* otherwise with probability ``keep_ratio``, decided on the trace id (the same rule as the SDK's
  ``TraceIdRatioBased``), so every service using the same ratio keeps the same ordinary traces.

:class:`TailSamplingSpanProcessor` holds the finished spans of each open trace until its local
root ends, then hands the kept ones to the exporting processors and forgets the rest: a dropped
trace is never encoded or sent. Memory is bounded (``max_traces`` open traces, ``max_spans`` each;
beyond that spans are dropped and counted). Histogram observations made inside a trace wait for
the decision too, so an exemplar only ever names a trace that was exported.

No library fits: the SDK's samplers run when a span *starts* (before its duration and status are
known) and the Collector's ``tail_sampling`` processor needs every span shipped to it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Span as ApiSpan
from opentelemetry.trace import StatusCode

from agentwatch.telemetry.catalogue import EXEMPLAR_SPAN_ID, EXEMPLAR_TRACE_ID
from agentwatch.telemetry.spans import DeferredSpan

__all__ = ["DECISIONS", "KeepPolicy", "TailSamplingSpanProcessor"]

#: Reasons a trace is kept, in the order they are checked.
DECISIONS = ("error", "slow", "probability")
_TRACE_ID_MASK = (1 << 64) - 1
_ERROR = StatusCode.ERROR
_STATUS_CODE = "http.response.status_code"


class KeepPolicy:
    """Whether a finished trace is kept, and why (``None``: dropped)."""

    def __init__(self, keep_ratio: float, slow_seconds: float) -> None:
        if not 0.0 <= keep_ratio <= 1.0:
            raise ValueError(f"keep_ratio must be in [0, 1], got {keep_ratio}")
        if slow_seconds <= 0:
            raise ValueError(f"slow_seconds must be greater than 0, got {slow_seconds}")
        self.keep_ratio, self.slow_seconds = keep_ratio, slow_seconds
        self._slow_ns = int(slow_seconds * 1e9)
        # TraceIdRatioBased's rule: keep when the low 64 bits of the trace id are below the bound.
        self._bound = round(keep_ratio * (1 << 64))

    def reason(self, root: ReadableSpan, failed: bool) -> str | None:
        """``failed``: some span of the trace ended with status ERROR."""
        if failed or root.status.status_code is _ERROR or (root.attributes or {}).get(_STATUS_CODE, 0) >= 500:
            return "error"
        if (root.end_time or 0) - (root.start_time or 0) > self._slow_ns:
            return "slow"
        if root.context.trace_id & _TRACE_ID_MASK < self._bound:
            return "probability"
        return None


class _OpenTrace:
    """Finished spans and pending histogram observations of a trace whose local root is running."""

    __slots__ = ("failed", "observations", "spans")

    def __init__(self) -> None:
        self.spans: list[ReadableSpan | DeferredSpan] = []
        self.observations: list[tuple[Any, float, int]] = []  # (histogram child, value, span id)
        self.failed = False


class TailSamplingSpanProcessor(SpanProcessor):
    """Buffers each trace until its local root ends; forwards kept traces to ``downstream``.

    Also the exemplar policy of :class:`~agentwatch.telemetry.metrics.Metrics` (``observe``): an
    observation made inside an open trace is recorded when the trace is decided, with the trace
    as exemplar only if it was kept.
    """

    def __init__(self, downstream: Sequence[SpanProcessor], policy: KeepPolicy, *,
                 max_traces: int = 4096, max_spans: int = 256, remembered: int = 4096) -> None:
        self.downstream = tuple(downstream)
        self.policy = policy
        self.max_traces, self.max_spans, self.remembered = max_traces, max_spans, remembered
        # No lock: every step is one dict or list operation, atomic under the GIL (and per object
        # without it). The one race — a span ending on another thread while its root is being
        # decided — can lose that span, never corrupt state.
        self._open: dict[int, _OpenTrace] = {}
        #: Recently kept traces, for spans and observations that come after their root ended.
        self._kept_recently: OrderedDict[int, None] = OrderedDict()
        #: Counters for tests and debugging: traces kept per reason, dropped, spans lost to the bounds.
        self.kept: dict[str, int] = dict.fromkeys(DECISIONS, 0)
        self.dropped = 0
        self.overflow = 0

    # --- SpanProcessor ---------------------------------------------------------------------------

    def open(self, trace_id: int) -> None:
        """A local root started: hold its trace's spans and observations until it ends."""
        if len(self._open) < self.max_traces:
            if trace_id not in self._open:
                self._open[trace_id] = _OpenTrace()
        else:
            self.overflow += 1

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        parent = span.parent
        if parent is None or parent.is_remote:  # a local root: open its trace
            self.open(span.context.trace_id)
        for processor in self.downstream:
            processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan | DeferredSpan) -> None:
        """An SDK span ended (SDK spans of other instrumentations), or a :class:`DeferredSpan`."""
        trace_id = span.context.trace_id
        parent = span.parent
        if parent is not None and not parent.is_remote:  # a child: wait for the root
            entry = self._open.get(trace_id)
            if entry is None:
                if trace_id in self._kept_recently:  # ended after its root, which was kept
                    self._forward([span])
                return
            if span.status.status_code is _ERROR:
                entry.failed = True
            if len(entry.spans) < self.max_spans:
                entry.spans.append(span)
            else:
                self.overflow += 1
            return
        entry = self._open.pop(trace_id, None) or _OpenTrace()
        reason = self.policy.reason(span, entry.failed)
        if reason is None:
            self.dropped += 1
            for child, value, _span_id in entry.observations:
                child.observe(value)
            return
        self.kept[reason] += 1
        kept = self._kept_recently
        kept[trace_id] = None
        if len(kept) > self.remembered:
            kept.popitem(last=False)
        entry.spans.append(span)
        self._forward(entry.spans)
        for child, value, span_id in entry.observations:
            child.observe(value, _exemplar(trace_id, span_id))

    def shutdown(self) -> None:
        for processor in self.downstream:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(processor.force_flush(timeout_millis) for processor in self.downstream)

    def _forward(self, spans: list[ReadableSpan | DeferredSpan]) -> None:
        if not self.downstream:
            return
        readable = [s.readable() if type(s) is DeferredSpan else s for s in spans]
        for processor in self.downstream:
            for span in readable:
                processor.on_end(span)

    # --- exemplar policy -------------------------------------------------------------------------

    def observe(self, child: Any, value: float, span: ApiSpan) -> None:
        """Observe ``value`` on a histogram child with ``span``'s trace as exemplar once it is kept."""
        context = span.get_span_context()
        if context.trace_flags.sampled:  # an invalid context is never sampled
            entry = self._open.get(context.trace_id)
            if entry is not None:
                entry.observations.append((child, value, context.span_id))
                return
            if context.trace_id in self._kept_recently:
                child.observe(value, _exemplar(context.trace_id, context.span_id))
                return
        child.observe(value)


def _exemplar(trace_id: int, span_id: int) -> dict[str, str]:
    return {EXEMPLAR_TRACE_ID: format(trace_id, "032x"), EXEMPLAR_SPAN_ID: format(span_id, "016x")}
