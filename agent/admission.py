"""Admission control at the front door: a bounded number of API requests in the app at once.

Without it every request fetched its state from Redis before the inference queue could turn it
away, so ten times the sustainable load exhausted the agent's own Redis pool (misreported as a
state-store outage) and starved the work it should protect. Here, the request beyond ``limit``
is answered ``429 overloaded`` with ``Retry-After`` before its body is parsed, Redis is asked or
the model queued; the Redis pool is sized to ``limit``, so admitted requests never wait for a
connection. Probes and ``/metrics`` are never shed: an overloaded instance must still look alive
and ready, or the orchestrator would pull it and push its load onto the others.

A counter, not a library: the event loop is single-threaded, so admission is one comparison, and
rejecting must cost less than serving (no queue, no lock, no task).

Usage::

    app.add_middleware(AdmissionMiddleware, tel=tel, limit=72, retry_after=batcher.retry_after_s)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentwatch.agent.middleware import error_response
from agentwatch.telemetry import Telemetry

__all__ = ["API_PREFIX", "AdmissionMiddleware"]

#: Paths that do work (Redis, the model); everything else (probes, /metrics, /docs) is not limited.
API_PREFIX = "/v1/"


class AdmissionMiddleware:
    """Pure ASGI: at most ``limit`` requests under ``API_PREFIX`` inside the app; the rest get 429."""

    def __init__(self, app: Any, tel: Telemetry, limit: int, retry_after: Callable[[], int] = lambda: 1) -> None:
        self.app, self.tel, self.limit, self.retry_after = app, tel, limit, retry_after
        self.inflight = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.limit:
            response = error_response(self.tel, "overloaded",
                                      f"the agent is at its limit of {self.limit} requests in flight; retry later",
                                      {"Retry-After": str(self.retry_after())})
            await response(scope, receive, send)
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1
