"""The front door: request-size and body-time limits and admission control, before anything else.

Without admission control every request fetched its state from Redis before the inference queue
could turn it away, so ten times the sustainable load exhausted the agent's own Redis pool
(misreported as a state-store outage) and starved the work it should protect. Here:

* at most ``limit()`` API requests (``/v1/...``) are inside the app at once; the next one is answered
  ``429 overloaded`` with ``Retry-After`` at once — before its body is read, a span is opened,
  Redis is asked or the model queued. The Redis pool is sized to its largest value (``AGENT_MAX_INFLIGHT``);
* a body larger than ``max_bytes`` gets 413 ``payload_too_large``, one not received within
  ``body_timeout_s`` 408 ``request_timeout``. The body is read *before* a slot is taken, so a slow
  client holds no slot (and the limit is checked again once the body is in);
* probes, ``/metrics`` and anything outside ``/v1/`` are never shed: an overloaded instance must
  still look alive and ready, or the orchestrator would pull it and push its load onto the others.

It sits outside the telemetry middleware because shedding must cost far less than serving: under
ten times the sustainable rate the event loop spends its time answering the excess, and every
microsecond there delays the admitted requests. A shed request therefore gets no span (a trace of
a rejection holds nothing); it is counted in ``agent_errors_total`` and the request histogram like
any other answer. Plain ASGI and a counter — the loop is single-threaded, so admission is one
comparison; no library offers less.

Usage::

    app.add_middleware(AdmissionMiddleware, tel=tel, limit=lambda: 72, max_bytes=65536, body_timeout_s=10,
                       retry_after=batcher.retry_after_s)      # after tel.instrument_app: outermost
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from agentwatch.telemetry import Telemetry
from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry.errors import TOO_BIG, error_body, error_response, read_body
from agentwatch.telemetry.labels import UNMATCHED_ROUTE

__all__ = ["API_PREFIX", "AdmissionMiddleware", "CancelOnDisconnectMiddleware"]

#: Paths that do work (Redis, the model); everything else (probes, /metrics, /docs) is not limited.
API_PREFIX = "/v1/"
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


class AdmissionMiddleware:
    """Pure ASGI; see the module docstring. ``routes``: the app's routes, to label what it answers."""

    def __init__(self, app: Any, tel: Telemetry, limit: Callable[[], int], max_bytes: int, body_timeout_s: float,
                 retry_after: Callable[[], int] = lambda: 1, routes: list[Any] | None = None) -> None:
        self.app, self.tel, self.limit = app, tel, limit
        self.max_bytes, self.body_timeout_s, self.retry_after = max_bytes, body_timeout_s, retry_after
        self.routes = routes if routes is not None else []
        self.inflight = 0
        # Shedding is the hot path under overload: its body, header and counter are built once.
        self._shed_body = json.dumps(error_body("overloaded", "the agent is at its limit of requests in "
                                                "flight; retry after the Retry-After seconds")).encode()
        self._shed_headers: dict[int, list[tuple[bytes, bytes]]] = {}
        self._shed_counter = tel.metrics.child(c.ERRORS, error_class="overloaded") if tel.settings.enabled else None
        self._shed_histograms: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        limited = scope["path"].startswith(API_PREFIX)
        if limited and self.inflight >= self.limit():
            await self._shed(scope, receive, send, start)
            return
        if scope.get("method") not in _NO_BODY:
            body = await self._read_body(scope, receive, send, start)
            if body is None:
                return  # answered (413/408) or the client went away
            receive = _replay(body, receive)
            if limited and self.inflight >= self.limit():  # others came in while this body arrived
                await self._shed(scope, receive, send, start)
                return
        if not limited:
            await self.app(scope, receive, send)
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1

    async def _shed(self, scope: dict, receive: Any, send: Any, start: float) -> None:
        """429 ``overloaded``, the same body and counters as :func:`error_response` builds, prebuilt."""
        retry = self.retry_after()
        headers = self._shed_headers.get(retry)
        if headers is None:
            headers = self._shed_headers[retry] = [
                (b"content-type", b"application/json"), (b"content-length", str(len(self._shed_body)).encode()),
                (b"retry-after", str(retry).encode())]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": self._shed_body})
        if self._shed_counter is not None:
            self._shed_counter.inc()
            method = scope.get("method", "")
            key = (self._template(scope), method if method in c.HTTP_METHODS else c.OTHER)
            child = self._shed_histograms.get(key)
            if child is None:
                child = self._shed_histograms[key] = self.tel.metrics.child(
                    c.REQUEST_DURATION, route=key[0], method=key[1], code="429")
            child.observe(time.perf_counter() - start)

    async def _read_body(self, scope: dict, receive: Any, send: Any, start: float) -> bytes | None:
        try:
            async with asyncio.timeout(self.body_timeout_s):
                body = await read_body(scope, receive, self.max_bytes)
        except TimeoutError:
            await self._answer(scope, receive, send, start, "request_timeout",
                               f"request body not received within {self.body_timeout_s:g}s", {"Connection": "close"})
            return None
        if body is TOO_BIG:
            await self._answer(scope, receive, send, start, "payload_too_large",
                               f"request body is larger than {self.max_bytes} bytes", {"Connection": "close"})
            return None
        return body  # type: ignore[return-value]  # bytes or None here

    async def _answer(self, scope: dict, receive: Any, send: Any, start: float, error_class: str, message: str,
                      headers: dict[str, str]) -> None:
        status = c.ERROR_CLASS_STATUS[error_class]
        await error_response(self.tel, error_class, message, headers)(scope, receive, send)
        method = scope.get("method", "")
        if self.tel.settings.enabled:
            self.tel.metrics.observe(c.REQUEST_DURATION, time.perf_counter() - start, route=self._template(scope),
                                     method=method if method in c.HTTP_METHODS else c.OTHER, code=str(status))

    def _template(self, scope: dict) -> str:
        """The route template ``scope`` would match (regexes of the app's own routes), else the
        unmatched-route label: never the raw path, so no request can mint a series."""
        path = scope["path"]
        for route in self.routes:
            regex = getattr(route, "path_regex", None)
            if regex is not None and regex.match(path):
                return route.path
        return UNMATCHED_ROUTE


def _replay(body: bytes, receive: Any) -> Any:
    replayed = False

    async def replay() -> dict:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class CancelOnDisconnectMiddleware:
    """Pure ASGI, inside the telemetry middleware: an API request whose client went away is
    cancelled (and leaves the inference queue) instead of being served to nobody.

    Under overload clients give up; work done for them is taken from the requests still waiting,
    and their admission slots would stay taken until the work ends — so a request right after a
    burst would still be shed. The cancelled request is recorded with status 499 (client closed
    the request, nginx's convention): not a server error, not in ``agent_errors_total``.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        request = await receive()  # the body (replayed by the front door) or uvicorn's empty one
        if request["type"] == "http.disconnect":
            return
        gone = asyncio.Event()
        started = False
        handed = False

        async def app_receive() -> dict:
            nonlocal handed
            if not handed:
                handed = True
                return request
            await gone.wait()
            return {"type": "http.disconnect"}

        async def app_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        handler = asyncio.ensure_future(self.app(scope, app_receive, app_send))
        watcher = asyncio.ensure_future(watch())
        try:
            await asyncio.wait((handler, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not handler.done():  # the client left first (or this task was cancelled)
                handler.cancel()
            watcher.cancel()
        if handler.cancelled() or not handler.done():
            with contextlib.suppress(asyncio.CancelledError):
                await handler
            if not started:  # uvicorn drops it (the peer is gone); the telemetry layer records 499
                await send({"type": "http.response.start", "status": 499, "headers": []})
                await send({"type": "http.response.body", "body": b""})
            return
        handler.result()  # re-raise what the app raised
