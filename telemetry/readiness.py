"""Readiness tied to start-up work (a model load and warm-up) and to live dependencies.

One object answers the two probes and keeps the gauges the dashboards and alerts read:

* ``GET /healthz`` — 200 while the process can still become ready; 503 once start-up failed (a
  model that cannot load), so the kubelet restarts it;
* ``GET /readyz`` — 200 once start-up finished and every dependency check answers; otherwise 503
  with the class and reason of the first thing missing (``model_not_loaded`` while loading). Probe
  answers are not counted in ``agent_errors_total``: they are the orchestrator asking, not requests;
* ``agent_ready`` (what /readyz last said), ``agent_model_loaded{model}`` and
  ``agent_model_load_duration_seconds{model}`` per model, ``agent_cold_start_duration_seconds``
  (process start to ready, imports included).

Usage::

    readiness = Readiness(tel)
    readiness.add_check("state store", store.ping, error_class="state_store_unavailable",
                        reason="state store (Redis) is not answering")
    readiness.install(app)                      # /readyz and /healthz (error bodies via telemetry.errors)

    async with readiness.loading("bm25"):       # in the lifespan: timed, 0 -> 1 on success
        index = await asyncio.to_thread(load_index)
    readiness.started()                          # cold start recorded; /readyz may now answer 200
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentwatch.telemetry import catalogue as c

if TYPE_CHECKING:
    from fastapi import FastAPI

    from agentwatch.telemetry.core import Telemetry

__all__ = ["Check", "Readiness", "process_start_time"]

log = logging.getLogger("agentwatch.telemetry")


def process_start_time() -> float:
    """Wall-clock start of this process (Linux ``/proc``); falls back to 'now'."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return boot + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


@dataclass(frozen=True)
class Check:
    """A dependency that must answer for the instance to be ready."""

    name: str
    probe: Callable[[], Awaitable[bool] | bool]
    error_class: str
    reason: str


class Readiness:
    """Start-up state, dependency checks and the probe endpoints; see the module docstring.

    ``starting_class`` is the error class /readyz answers with until :meth:`started` (and /healthz
    after a failed load): ``model_not_loaded``, a library class, fits anything that loads a model.
    """

    def __init__(self, telemetry: Telemetry, *, starting_class: str = "model_not_loaded") -> None:
        self.tel, self.metrics = telemetry, telemetry.metrics
        self.starting_class = starting_class
        self.checks: list[Check] = []
        self.failure: str | None = None
        self.ready_event = asyncio.Event()
        self._started = False
        self.metrics.set(c.READY, 0)
        self.metrics.set(c.COLD_START_DURATION, 0)

    def add_check(self, name: str, probe: Callable[[], Awaitable[bool] | bool], *, error_class: str,
                  reason: str) -> None:
        """``probe()`` (sync or async) must return true for /readyz to answer 200."""
        self.checks.append(Check(name, probe, error_class, reason))

    def expect(self, *models: str) -> None:
        """Name the models start-up will load: their ``agent_model_loaded`` series start at 0."""
        self.metrics.allow("model", models)
        for model in models:
            self.metrics.set(c.MODEL_LOADED, 0, model=model)
            self.metrics.set(c.MODEL_LOAD_DURATION, 0, model=model)

    @asynccontextmanager
    async def loading(self, model: str) -> AsyncIterator[None]:
        """Time one model's load and warm-up; on success it counts as loaded, on failure the
        process turns unhealthy (/healthz 503) and the exception propagates."""
        self.expect(model)
        start = time.perf_counter()
        try:
            yield
        except Exception as exc:
            self.fail(f"{model} failed to load: {type(exc).__name__}: {exc}")
            raise
        self.metrics.set(c.MODEL_LOAD_DURATION, time.perf_counter() - start, model=model)
        self.metrics.set(c.MODEL_LOADED, 1, model=model)

    def fail(self, reason: str) -> None:
        """Start-up failed for good: /healthz and /readyz answer 503 with ``reason`` from now on."""
        self.failure = reason
        log.error("start-up failed", extra={"reason": reason})
        self.ready_event.set()

    def started(self) -> float:
        """Start-up work is done: records and returns the cold start (process start → now)."""
        cold = time.time() - process_start_time()
        self.metrics.set(c.COLD_START_DURATION, cold)
        self._started = True
        self.ready_event.set()
        return cold

    @property
    def is_started(self) -> bool:
        return self._started and self.failure is None

    async def wait(self, timeout: float = 120.0) -> None:
        """Wait for start-up to end (tests, benchmarks); raise ``RuntimeError`` if it failed."""
        await asyncio.wait_for(self.ready_event.wait(), timeout)
        if self.failure:
            raise RuntimeError(self.failure)

    async def check(self) -> tuple[str | None, str]:
        """``(None, "ready")`` or ``(error_class, reason)`` of the first thing missing; sets ``agent_ready``."""
        result: tuple[str | None, str] = (None, "ready")
        if self.failure:
            result = (self.starting_class, self.failure)
        elif not self._started:
            result = (self.starting_class, "starting up: the model is loading or warming up")
        else:
            for check in self.checks:
                try:
                    answer = check.probe()
                    ok = await answer if inspect.isawaitable(answer) else answer
                except Exception:  # a probe that raises is a dependency that does not answer
                    ok = False
                if not ok:
                    result = (check.error_class, check.reason)
                    break
        self.metrics.set(c.READY, 1 if result[0] is None else 0)
        return result

    def install(self, app: FastAPI, *, readyz: str = "/readyz", healthz: str = "/healthz") -> None:
        """Add the two probe endpoints to ``app`` (before ``Telemetry.instrument_app``)."""
        from starlette.responses import JSONResponse, Response

        from agentwatch.telemetry.errors import error_response

        async def healthz_endpoint() -> Response:
            """Alive, unless start-up failed for good (then the process should be restarted)."""
            if self.failure:
                return error_response(self.tel, self.starting_class, self.failure, count=False)
            return JSONResponse({"status": "ok"})

        async def readyz_endpoint() -> Response:
            """200 once start-up is done and every dependency answers; else 503 with the reason."""
            error_class, reason = await self.check()
            if error_class is not None:
                return error_response(self.tel, error_class, reason, count=False)  # a probe, not a request
            return JSONResponse({"status": "ready"})

        app.add_api_route(healthz, healthz_endpoint, methods=["GET"])
        app.add_api_route(readyz, readyz_endpoint, methods=["GET"])
