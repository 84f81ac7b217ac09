"""The empty-route apps of the instrumentation benchmark, as uvicorn factories.

All three are the same FastAPI app (``POST /v1/ping`` answering ``{"ok": true}`` and
``GET /healthz``); they differ only in instrumentation:

* ``plain_app`` — no telemetry at all (the baseline);
* ``ours_app`` — ``Telemetry.instrument_app`` (server spans, request metrics, ``/metrics``; the
  span path follows ``AGENTWATCH_FASTAPI_INSTRUMENTATION``: ``lean`` by default, or ``contrib``);
* ``stock_app`` — ``FastAPIInstrumentor.instrument_app(app)`` with its defaults and the global SDK
  tracer provider.

Both traced variants export every span (100% sampling) through a ``BatchSpanProcessor`` and the
real OTLP/HTTP exporter to ``OTEL_EXPORTER_OTLP_ENDPOINT``, which the benchmark points at a
local receiver, so export cost is part of what is measured.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from agentwatch.telemetry.fastapi import NATIVE_TELEMETRY_OFF

__all__ = ["ours_app", "plain_app", "stock_app"]


def _app() -> FastAPI:
    # No telemetry at all in the baseline, FastAPI's own (on since 0.142) included.
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, telemetry=NATIVE_TELEMETRY_OFF)

    @app.post("/v1/ping")
    async def ping(payload: dict[str, Any]) -> dict[str, bool]:
        return {"ok": True}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def plain_app() -> FastAPI:
    return _app()


def ours_app() -> FastAPI:
    from agentwatch.telemetry import Telemetry, TelemetrySettings

    app = _app()
    telemetry = Telemetry(TelemetrySettings.from_env(service_name="bench-empty-route"))
    telemetry.instrument_app(app)
    return app


def stock_app() -> FastAPI:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "bench-empty-route"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    app = _app()
    FastAPIInstrumentor.instrument_app(app)
    return app
