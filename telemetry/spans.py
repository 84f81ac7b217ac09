"""Spans recorded as plain objects and built as SDK spans only for traces the tail sampler keeps.

An SDK span costs 12-18 µs to create and end on this machine (ids, sampler, ``BoundedAttributes``
validation of every attribute, the processor chain, a ``ReadableSpan`` copy at end) — more than
the whole empty FastAPI route's budget for telemetry, and most traces are dropped by the tail
sampler anyway. :class:`DeferredTracer` implements the OpenTelemetry *API* ``Tracer`` (as any
alternative implementation may); its :class:`DeferredSpan` keeps name, times, attributes, events
and status in slots, and :meth:`DeferredSpan.readable` builds the SDK ``ReadableSpan`` (with the
SDK's own attribute validation and limits) only when its trace was kept, for the exporters.

What an instrumented agent sees is the API: ``trace.get_current_span()``, ``set_attribute``,
``record_exception``, ``get_span_context`` (W3C ids for logs, propagation and exemplars) behave as
on SDK spans. SDK spans from other instrumentations (``tel.tracer_provider``) join the same traces.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from time import time_ns
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.util.types import Attributes

if TYPE_CHECKING:
    from agentwatch.telemetry.sampling import TailSamplingSpanProcessor

__all__ = ["DeferredSpan", "DeferredTracer"]

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSET = Status(StatusCode.UNSET)
_random = random.Random()  # its own generator: seeding the global one must not repeat trace ids


class DeferredTracer(trace_api.Tracer):
    """Starts :class:`DeferredSpan` s; a local root opens its trace in the tail sampler."""

    def __init__(self, sampler: TailSamplingSpanProcessor, resource: Resource, scope: InstrumentationScope,
                 limits: SpanLimits | None = None) -> None:
        self.sampler, self.resource, self.scope = sampler, resource, scope
        self.limits = limits or SpanLimits()

    def start_span(self, name: str, context: otel_context.Context | None = None,
                   kind: SpanKind = SpanKind.INTERNAL, attributes: Attributes = None,
                   links: Sequence[Link] | None = None, start_time: int | None = None,
                   record_exception: bool = True, set_status_on_exception: bool = True) -> trace_api.Span:
        parent = trace_api.get_current_span(context).get_span_context()
        if parent.is_valid:
            if not parent.trace_flags.sampled:  # the caller decided against this trace: record nothing
                return NonRecordingSpan(parent)
            trace_id, state = parent.trace_id, parent.trace_state
        else:
            trace_id, state = _random.getrandbits(128) or 1, None
        span_context = SpanContext(trace_id, _random.getrandbits(64) or 1, False, _SAMPLED, state)
        local_root = not parent.is_valid or parent.is_remote
        if local_root:
            self.sampler.open(trace_id)
        return DeferredSpan(self, name, span_context, parent if parent.is_valid else None, kind,
                            dict(attributes) if attributes else {}, links, start_time or time_ns(),
                            record_exception, set_status_on_exception)

    @contextmanager
    def start_as_current_span(self, name: str, context: otel_context.Context | None = None,
                              kind: SpanKind = SpanKind.INTERNAL, attributes: Attributes = None,
                              links: Sequence[Link] | None = None, start_time: int | None = None,
                              record_exception: bool = True, set_status_on_exception: bool = True,
                              end_on_exit: bool = True) -> Iterator[trace_api.Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time, record_exception,
                               set_status_on_exception)
        with trace_api.use_span(span, end_on_exit=end_on_exit, record_exception=record_exception,
                                set_status_on_exception=set_status_on_exception) as current:
            yield current


class DeferredSpan(trace_api.Span):
    """A recording span held as plain data until its trace is decided (see the module docstring).

    Exposes the fields the tail sampler reads on SDK spans too (``context``, ``parent``,
    ``status``, ``attributes``, ``start_time``, ``end_time``).
    """

    __slots__ = ("_record_exception", "_set_status_on_exception", "_tracer", "attributes", "context", "end_time",
                 "events", "kind", "links", "name", "parent", "start_time", "status")

    def __init__(self, tracer: DeferredTracer, name: str, context: SpanContext, parent: SpanContext | None,
                 kind: SpanKind, attributes: dict[str, Any], links: Sequence[Link] | None, start_time: int,
                 record_exception: bool, set_status_on_exception: bool) -> None:
        self._tracer = tracer
        self.name, self.context, self.parent, self.kind = name, context, parent, kind
        self.attributes = attributes
        self.links = tuple(links) if links else ()
        self.events: list[tuple[str, Attributes, int]] = []
        self.status = _UNSET
        self.start_time, self.end_time = start_time, None
        self._record_exception, self._set_status_on_exception = record_exception, set_status_on_exception

    # --- the API -----------------------------------------------------------------------------------

    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return self.end_time is None

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self.end_time is None:
            self.attributes.update(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        if self.end_time is None:
            self.attributes[key] = value

    def add_event(self, name: str, attributes: Attributes = None, timestamp: int | None = None) -> None:
        if self.end_time is None:
            self.events.append((name, attributes, timestamp or time_ns()))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        if self.end_time is None and context.is_valid:
            self.links = (*self.links, Link(context, attributes))

    def update_name(self, name: str) -> None:
        if self.end_time is None:
            self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # The SDK's rules: OK is final, and a description belongs to ERROR only.
        if self.end_time is not None or self.status.status_code is StatusCode.OK:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        self.status = status

    def record_exception(self, exception: BaseException, attributes: Attributes = None,
                         timestamp: int | None = None, escaped: bool = False) -> None:
        """An ``exception`` event with the semantic-convention attributes, as the SDK writes it."""
        kind = type(exception)
        qualname = kind.__qualname__
        event: dict[str, Any] = {
            "exception.type": f"{kind.__module__}.{qualname}" if kind.__module__ not in (None, "builtins")
            else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is None:
            self.end_time = end_time or time_ns()
            self._tracer.sampler.on_end(self)  # type: ignore[arg-type]

    def __enter__(self) -> DeferredSpan:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc is not None and self.is_recording():
            if self._record_exception:
                self.record_exception(exc, escaped=True)
            if self._set_status_on_exception:
                self.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        self.end()

    # --- for the exporters -------------------------------------------------------------------------

    def readable(self) -> ReadableSpan:
        """The SDK span the exporters take, attributes validated and limited as the SDK does."""
        tracer, limits = self._tracer, self._tracer.limits
        return ReadableSpan(
            name=self.name, context=self.context, parent=self.parent, resource=tracer.resource,
            attributes=BoundedAttributes(limits.max_span_attributes, self.attributes, immutable=True,
                                         max_value_len=limits.max_span_attribute_length),
            events=tuple(Event(name, BoundedAttributes(limits.max_event_attributes, attrs, immutable=True,
                                                       max_value_len=limits.max_attribute_length), ts)
                         for name, attrs, ts in self.events[:limits.max_events or None]),
            links=self.links, kind=self.kind, status=self.status, start_time=self.start_time,
            end_time=self.end_time, instrumentation_scope=tracer.scope)

