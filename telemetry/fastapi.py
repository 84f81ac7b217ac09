"""FastAPI instrumentation: one server span per request, request metrics, ``/metrics``.

Two ways to make the server span, chosen by ``AGENTWATCH_FASTAPI_INSTRUMENTATION``:

* ``lean`` (default): one pure-ASGI middleware opens the server span (W3C context extracted only
  when the request carries it; stable HTTP semantic-convention attributes) and records the request
  histogram inside it, so the exemplar is that span's trace. Nothing per ASGI message, no route
  matching of its own (Starlette's match is read back from the scope).
* ``contrib``: ``opentelemetry-instrumentation-fastapi`` with ``receive``/``send`` spans and its
  own OTel metrics off, plus the same request-metrics middleware inside its span. It keeps about
  half of an empty route's throughput here against lean's larger share (``bench/instrumentation``).

Both exclude probe and scrape paths; request latency is labelled with the route *template*.

FastAPI 0.142 and later trace, meter and log requests themselves as soon as a global OpenTelemetry
provider is configured. With agentwatch's server span that would trace every request twice (and
add FastAPI's operation spans), so :func:`instrument_app` switches FastAPI's own request telemetry
off on the app it instruments; apps agentwatch builds pass :data:`NATIVE_TELEMETRY_OFF`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.requests import Request
from starlette.responses import Response

from agentwatch.telemetry.catalogue import HTTP_METHODS, INFLIGHT_REQUESTS, OTHER, REQUEST_DURATION
from agentwatch.telemetry.exposition import render_metrics
from agentwatch.telemetry.labels import UNMATCHED_ROUTE
from agentwatch.telemetry.metrics import Metrics

if TYPE_CHECKING:
    from fastapi import FastAPI

    from agentwatch.telemetry.core import Telemetry

__all__ = ["NATIVE_TELEMETRY_OFF", "RequestMetricsMiddleware", "ServerTelemetryMiddleware", "instrument_app"]

#: ``FastAPI(telemetry=NATIVE_TELEMETRY_OFF)``: none of FastAPI's own request telemetry. Older
#: FastAPI versions keep unknown keyword arguments in ``app.extra``, so passing it is always safe.
NATIVE_TELEMETRY_OFF: dict[str, bool] = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}

_METHODS = frozenset(HTTP_METHODS)
#: Request-histogram children cached per (route, method, code); the key space is closed anyway.
_CHILD_CACHE_SIZE = 4096


class RequestMetricsMiddleware:
    """Pure ASGI: observes ``agent_request_duration_seconds{route,method,code}`` per HTTP request.

    Labels come only from the matched route template, a closed method set and the status code,
    so no request can create a series. ``excluded`` paths (probes, scrapes) are not counted.
    """

    def __init__(self, app: Any, metrics: Metrics, excluded: Sequence[str] = ()) -> None:
        self.app = app
        self.metrics = metrics
        self.excluded = frozenset(excluded)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in self.excluded:
            await self.app(scope, receive, send)
            return
        status = 500  # an exception that escapes every handler becomes a 500
        start = time.perf_counter()

        async def send_wrapper(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.add(INFLIGHT_REQUESTS, 1)
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.add(INFLIGHT_REQUESTS, -1)
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            method = scope.get("method", "")
            self.metrics.observe(REQUEST_DURATION, time.perf_counter() - start, route=route,
                                 method=method if method in _METHODS else OTHER, code=str(status))


class ServerTelemetryMiddleware:
    """Pure ASGI: a SERVER span per HTTP request and the request histogram recorded inside it."""

    def __init__(self, app: Any, telemetry: Telemetry, excluded: Sequence[str] = ()) -> None:
        self.app = app
        self.tracer = telemetry.tracer
        self.metrics = telemetry.metrics
        self.exemplars = telemetry.metrics.exemplars
        self.excluded = frozenset(excluded)
        self.inflight = telemetry.metrics.child(INFLIGHT_REQUESTS)
        self.histograms: dict[tuple[str, str, int], Any] = {}
        # Header names the configured propagators read (OTEL_PROPAGATORS), as ASGI bytes.
        self.propagation_headers = frozenset(f.lower().encode("latin-1") for f in propagate.get_global_textmap().fields)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in self.excluded:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        method = scope.get("method", "")
        method = method if method in _METHODS else OTHER
        parent = self._extract_parent(scope)
        span = self.tracer.start_span(method, context=parent, kind=SpanKind.SERVER, attributes={
            "http.request.method": method, "url.path": scope.get("path", ""),
            "url.scheme": scope.get("scheme", "http")})
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        status = 500  # an exception that escapes every handler becomes a 500

        async def send_wrapper(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.inflight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException as exc:
            span.record_exception(exc)
            raise
        finally:
            self.inflight.dec()
            template = getattr(scope.get("route"), "path", None)
            if span.is_recording():
                if template:
                    span.update_name(f"{method} {template}")
                    span.set_attributes({"http.route": template, "http.response.status_code": status})
                else:
                    span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
            # Before end(): under tail sampling the exemplar waits for the decision end() takes.
            self.exemplars.observe(self._histogram(template or UNMATCHED_ROUTE, method, status),
                                   time.perf_counter() - start, span)
            otel_context.detach(token)
            span.end()

    def _histogram(self, route: str, method: str, status: int) -> Any:
        key = (route, method, status)
        child = self.histograms.get(key)
        if child is None:
            child = self.metrics.child(REQUEST_DURATION, route=route, method=method, code=str(status))
            if len(self.histograms) < _CHILD_CACHE_SIZE:
                self.histograms[key] = child
        return child

    def _extract_parent(self, scope: dict) -> otel_context.Context | None:
        """The caller's trace context, decoded only when the request carries propagation headers."""
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())
                   if k in self.propagation_headers}
        return propagate.extract(carrier) if carrier else None


def instrument_app(app: FastAPI, telemetry: Telemetry, *,
                   excluded_paths: Sequence[str] = ("/metrics", "/healthz", "/readyz"),
                   metrics_path: str = "/metrics") -> None:
    """Add ``GET metrics_path``, request metrics and lean server spans to ``app``.

    Call once, after every route is added: the route templates become the closed ``route`` set.
    With telemetry off only ``/metrics`` is added, so the app behaves the same either way.
    """
    registry = telemetry.registry

    async def metrics_endpoint(request: Request) -> Response:
        body, content_type = render_metrics(registry, request.headers.get("accept"))
        return Response(body, media_type=content_type)

    app.add_api_route(metrics_path, metrics_endpoint, methods=["GET"], include_in_schema=False)
    telemetry.metrics.allow("route", [path for route in app.routes if (path := getattr(route, "path", None))])
    if not telemetry.settings.enabled:
        return
    _switch_off_native_telemetry(app)
    if telemetry.settings.fastapi_instrumentation == "lean":
        app.add_middleware(ServerTelemetryMiddleware, telemetry=telemetry, excluded=excluded_paths)
        return
    # Imported here: 34 ms of the agent's cold start, for a mode the default does not use.
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    app.add_middleware(RequestMetricsMiddleware, metrics=telemetry.metrics, excluded=excluded_paths)
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=NoOpMeterProvider(),
        excluded_urls=",".join(re.escape(p) + "$" for p in excluded_paths),
        exclude_spans=["receive", "send"],
    )


def _switch_off_native_telemetry(app: Any) -> None:
    """Switch FastAPI's own request telemetry off on ``app`` (see the module docstring).

    FastAPI offers the switch only as a constructor argument (``FastAPI(telemetry=...)``); its app
    keeps that configuration as a dict and reads it on every request, so the same keys are set
    there. Versions without native telemetry have no such dict and are left alone.
    """
    config = getattr(app, "_telemetry", None)
    if isinstance(config, dict):
        config.update(NATIVE_TELEMETRY_OFF)
