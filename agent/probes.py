"""Probe endpoints and the optional admin app (probes and ``/metrics`` on a port of their own).

What each probe means (the README's "Probes and readiness" section argues the choices):

* ``GET /startupz`` — the model loaded and answered its warm-up. Kubernetes' startup probe: it
  gates the other two until the cold start is over.
* ``GET /healthz`` — the process is alive; only a failed model load makes it fail (a restart may
  cure that; nothing else here would be cured by one). Liveness.
* ``GET /readyz`` — the model is warm and the instance is not draining. The state store's health
  is reported in ``checks`` but does not gate readiness unless
  ``AGENT_READINESS_REQUIRES_STATE_STORE=true``: Redis is shared, so gating on it would take every
  instance out of the Service at once and clients would get connection errors instead of a
  classified 503 ``state_store_unavailable``.

Probe answers are never counted in ``agent_errors_total`` and never reach the request histogram
(the SLO's events): a probe is the orchestrator asking, not a customer being failed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from agentwatch.agent.errors import ERROR_RESPONSES, UNKNOWN_ROUTE_CLASS, error_body
from agentwatch.agent.service import AgentService
from agentwatch.telemetry import Telemetry
from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry.exposition import render_metrics
from agentwatch.telemetry.fastapi import NATIVE_TELEMETRY_OFF

__all__ = ["METRICS_PATH", "OPS_PATHS", "PROBE_PATHS", "admin_app", "probe_router"]

PROBE_PATHS = ("/healthz", "/readyz", "/startupz")
METRICS_PATH = "/metrics"
#: Paths the telemetry middleware leaves out of server spans and the request histogram.
OPS_PATHS = (*PROBE_PATHS, METRICS_PATH)


class ProbeOk(BaseModel):
    status: str
    checks: dict[str, str] | None = None


def probe_error(error_class: str, message: str, checks: dict[str, str] | None = None) -> JSONResponse:
    """A probe's 503 with the usual error body (plus ``checks``); deliberately not counted."""
    body: dict[str, Any] = error_body(error_class, message)
    if checks is not None:
        body["checks"] = checks
    return JSONResponse(body, status_code=c.ERROR_CLASS_STATUS[error_class])


def probe_router(service: AgentService) -> APIRouter:
    """``/healthz``, ``/startupz`` and ``/readyz`` bound to ``service``."""
    router = APIRouter(tags=["probes"])
    error_responses = {"5XX": ERROR_RESPONSES["5XX"]}

    @router.get("/healthz", response_model=ProbeOk, responses=error_responses)
    async def healthz() -> Response:
        """Alive. Fails only after a failed model load, so the process gets restarted."""
        if service.load_error:
            return probe_error("model_not_loaded", service.load_error)
        return JSONResponse({"status": "ok"})

    @router.get("/startupz", response_model=ProbeOk, responses=error_responses)
    async def startupz() -> Response:
        """Started: the model loaded and answered its warm-up call (the startup probe)."""
        error_class, reason = service.startup()
        if error_class is not None:
            return probe_error(error_class, reason)
        return JSONResponse({"status": "started"})

    @router.get("/readyz", response_model=ProbeOk, responses=error_responses)
    async def readyz() -> Response:
        """Ready: model warm and not draining; ``checks`` reports the model, Redis and draining."""
        error_class, reason, checks = await service.probe_readiness()
        if error_class is not None:
            return probe_error(error_class, reason, checks)
        return JSONResponse({"status": "ready", "checks": checks})

    return router


def admin_app(service: AgentService, tel: Telemetry) -> FastAPI:
    """The probes and ``/metrics`` alone, for ``AGENT_ADMIN_PORT``; no lifespan of its own (the
    API app's owns the service), no OpenAPI. Unknown paths get the usual 404 error body."""
    # Probes and scrapes are never traced (FastAPI's own telemetry included).
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, redirect_slashes=False,
                  telemetry=NATIVE_TELEMETRY_OFF)
    app.include_router(probe_router(service))

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics(request: Request) -> Response:
        body, content_type = render_metrics(tel.registry, request.headers.get("accept"))
        return Response(body, media_type=content_type)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return JSONResponse(error_body("method_not_allowed", f"method {request.method} is not allowed here"),
                                status_code=405, headers=exc.headers)
        return JSONResponse(error_body(UNKNOWN_ROUTE_CLASS, "no such route"), status_code=404)

    return app
