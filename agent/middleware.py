"""Every error becomes one JSON error body, counted once in ``agent_errors_total``.

(Size, time and admission limits are at the front door: :mod:`agentwatch.agent.admission`.)

* :func:`error_response` — the only place an error response is built (and counted);
* :class:`BodyLimitMiddleware` — bodies larger than the limit get 413, bodies slower than the
  timeout 408, before any route reads them (and before admission, so a slow client holds no slot);
* :class:`ErrorBoundaryMiddleware` — an exception no handler took becomes a 500 ``internal``
  without a traceback in the body (it is logged, with the trace id).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from starlette.responses import JSONResponse

from agentwatch.agent.errors import error_body
from agentwatch.telemetry import Telemetry, genai
from agentwatch.telemetry import catalogue as c

__all__ = ["ErrorBoundaryMiddleware", "error_response"]

log = logging.getLogger("agentwatch.agent")


def error_response(tel: Telemetry, error_class: str, message: str,
                   headers: Mapping[str, str] | None = None, *, count: bool = True) -> JSONResponse:
    """The JSON error response for ``error_class``; counts it and marks the current (server) span.

    ``count=False`` for probe answers (``/readyz``, ``/healthz``): they are not requests, the request
    histogram excludes them, and counting them made "failed requests / requests" read 850 % while a
    restarting instance was polled for readiness. ``agent_ready`` says what they say.
    """
    status = c.ERROR_CLASS_STATUS[error_class]
    if count:
        tel.metrics.inc(c.ERRORS, error_class=error_class)
    span = trace.get_current_span()
    if status >= 500:
        tel.set_error(span, error_class)
    elif span.is_recording():
        span.set_attribute(genai.ERROR_TYPE, error_class)  # 4xx: not a server fault, status stays unset
    return JSONResponse(error_body(error_class, message), status_code=status, headers=dict(headers or {}))


class ErrorBoundaryMiddleware:
    """Turns an unhandled exception into a 500 ``internal`` JSON error (if nothing was sent yet)."""

    def __init__(self, app: Any, tel: Telemetry) -> None:
        self.app, self.tel = app, tel

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("unhandled error", extra={"path_template": getattr(scope.get("route"), "path", None)})
            if started:
                raise
            response = error_response(self.tel, "internal", "internal error; see the agent's logs")
            await response(scope, receive, send)
