"""Error classes at the HTTP edge: every failure becomes one JSON body, counted once by its class.

An application raises :class:`AppError` with a class it declared (``Telemetry.declare``, or the
spec's ``application.error_classes``); :func:`install_error_handling` turns that, request validation
errors, unknown routes and methods, oversized bodies and unhandled exceptions into
``{"error": {"class", "message"}}`` with the class's HTTP status, one ``agent_errors_total{error_class}``
increment and the server span marked (5xx: failed with ``error.type``; 4xx: ``error.type`` only).

Usage::

    from agentwatch.telemetry.errors import AppError, install_error_handling

    tel.declare(ClosedSets(error_classes={"tool_failed": 502}))
    install_error_handling(app, tel, max_body_bytes=65536)   # after the routes, before instrument_app

    raise AppError("tool_failed", "the weather tool did not answer")          # -> 502
    raise AppError("overloaded", "queue full", headers={"Retry-After": "1"})  # a library class -> 429

The library's own classes (``catalogue.LIBRARY_ERROR_CLASSES``) are always declared. A class nobody
declared answers 500 and counts as ``other`` (raises in strict mode), so a typo cannot mint a series.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from opentelemetry import trace
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentwatch.telemetry import genai
from agentwatch.telemetry.catalogue import ERRORS

if TYPE_CHECKING:
    from fastapi import FastAPI

    from agentwatch.telemetry.core import Telemetry

__all__ = [
    "TOO_BIG",
    "AppError",
    "BodyLimitMiddleware",
    "ErrorBoundaryMiddleware",
    "error_body",
    "error_response",
    "install_error_handling",
    "read_body",
    "validation_message",
]

log = logging.getLogger("agentwatch.telemetry")


class AppError(Exception):
    """A failure with a declared error class; ``message`` is shown to the client, so it never
    holds conversation text. ``error_class`` is also what a failed span's ``error.type`` says."""

    def __init__(self, error_class: str, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.headers = dict(headers or {})


def error_body(error_class: str, message: str) -> dict[str, dict[str, str]]:
    """``{"error": {"class": ..., "message": ...}}``."""
    return {"error": {"class": error_class, "message": message}}


def error_response(tel: Telemetry, error_class: str, message: str,
                   headers: Mapping[str, str] | None = None, *, count: bool = True) -> JSONResponse:
    """The JSON error response for ``error_class``; counts it and marks the current (server) span.

    ``count=False`` for probe answers (``/readyz``, ``/healthz``): they are not requests, the request
    histogram excludes them, and counting them would make "failed requests / requests" read far above
    100 % while a restarting instance is polled for readiness. ``agent_ready`` says what they say.
    """
    status = tel.closed_sets.error_status.get(error_class)
    if status is None:
        if tel.settings.strict_labels:
            tel.closed_sets.status(error_class)  # raises, naming the declared classes
        status = 500
    if count:
        tel.metrics.inc(ERRORS, error_class=error_class)
    span = trace.get_current_span()
    if status >= 500:
        tel.set_error(span, error_class)
    elif span.is_recording():
        span.set_attribute(genai.ERROR_TYPE, error_class)  # 4xx: not a server fault, status stays unset
    return JSONResponse(error_body(error_class, message), status_code=status, headers=dict(headers or {}))


def validation_message(request: Request, exc: RequestValidationError) -> str:
    """A short, input-free description of what failed validation (pydantic messages never echo input)."""
    parts = []
    for err in exc.errors()[:3]:
        loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
        where = ".".join(loc[1:]) if len(loc) > 1 else (loc[0] if loc else "request")
        if err.get("type") == "json_invalid":
            parts.append("body: invalid JSON")
        elif loc[:1] == ["body"] and err.get("type") in ("model_attributes_type", "dict_type"):
            content_type = request.headers.get("content-type", "")
            parts.append("body: must be a JSON object" if "json" in content_type
                         else "body: must be JSON sent with Content-Type: application/json")
        else:
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


class _TooBig:
    """``read_body``'s answer for a body over the limit (declared or streamed)."""


TOO_BIG = _TooBig()


async def read_body(scope: dict, receive: Any, max_bytes: int) -> bytes | _TooBig | None:
    """The whole request body from ``receive``; ``TOO_BIG`` (identity) once it passes ``max_bytes``
    (a declared Content-Length over it is refused unread); ``None`` if the client went away."""
    declared = dict(scope.get("headers") or ()).get(b"content-length")
    try:
        if declared is not None and int(declared) > max_bytes:
            return TOO_BIG
    except ValueError:
        pass
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return TOO_BIG
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


class BodyLimitMiddleware:
    """Pure ASGI: bodies over ``max_bytes`` (declared or streamed) get 413 ``payload_too_large`` before
    any route reads them; smaller ones are replayed to the app."""

    def __init__(self, app: Any, tel: Telemetry, max_bytes: int) -> None:
        self.app, self.tel, self.max_bytes = app, tel, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        body = await read_body(scope, receive, self.max_bytes)
        if body is None:
            return
        if body is TOO_BIG:
            response = error_response(self.tel, "payload_too_large",
                                      f"request body is larger than {self.max_bytes} bytes")
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class ErrorBoundaryMiddleware:
    """Pure ASGI: an exception no handler took becomes a 500 ``internal`` JSON error (if nothing was
    sent yet), logged with its trace id, never a traceback in the body."""

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
            response = error_response(self.tel, "internal", "internal error; see the service's logs")
            await response(scope, receive, send)


def install_error_handling(app: FastAPI, tel: Telemetry, *, max_body_bytes: int | None = 65536) -> None:
    """Answer every failure of ``app`` with a declared class, counted once.

    ``AppError`` → its class; request validation → ``bad_request`` (400); an unknown path →
    ``route_not_found`` (404); a wrong method → ``method_not_allowed`` (405); a body over
    ``max_body_bytes`` → ``payload_too_large`` (413, ``None``: no limit); anything unhandled →
    ``internal`` (500). Call it before :meth:`Telemetry.instrument_app`, so the server span wraps it.
    """

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        return error_response(tel, exc.error_class, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_response(tel, "bad_request", validation_message(request, exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(tel, "route_not_found", "no such route")
        if exc.status_code == 405:
            return error_response(tel, "method_not_allowed", f"method {request.method} is not allowed here",
                                  exc.headers)
        by_status = [k for k, v in tel.closed_sets.error_status.items() if v == exc.status_code]
        fallback = "bad_request" if exc.status_code < 500 else "internal"
        return error_response(tel, by_status[0] if by_status else fallback, str(exc.detail), exc.headers)

    app.add_middleware(ErrorBoundaryMiddleware, tel=tel)
    if max_body_bytes is not None:
        app.add_middleware(BodyLimitMiddleware, tel=tel, max_bytes=max_body_bytes)
