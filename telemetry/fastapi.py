"""FastAPI instrumentation, lean: one server span per request, request metrics, ``/metrics``.

Server spans come from ``opentelemetry-instrumentation-fastapi`` with the per-message
``receive``/``send`` spans and its own OTel metrics turned off, and probe/scrape paths excluded.
Request latency goes to the catalogue histogram with the route *template* as label, from a small
pure-ASGI middleware that runs inside the server span, so its exemplar is that span's trace.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from starlette.requests import Request
from starlette.responses import Response

from agentwatch.telemetry.catalogue import HTTP_METHODS, INFLIGHT_REQUESTS, OTHER, REQUEST_DURATION
from agentwatch.telemetry.exposition import render_metrics
from agentwatch.telemetry.labels import UNMATCHED_ROUTE
from agentwatch.telemetry.metrics import Metrics

if TYPE_CHECKING:
    from fastapi import FastAPI

    from agentwatch.telemetry.core import Telemetry

__all__ = ["RequestMetricsMiddleware", "instrument_app"]

_METHODS = frozenset(HTTP_METHODS)


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
    app.add_middleware(RequestMetricsMiddleware, metrics=telemetry.metrics, excluded=excluded_paths)
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=NoOpMeterProvider(),
        excluded_urls=",".join(re.escape(p) + "$" for p in excluded_paths),
        exclude_spans=["receive", "send"],
    )
