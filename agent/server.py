"""Run the agent with uvicorn: JSON logs, settings from the environment, a draining shutdown.

Usage::

    python -m agentwatch.agent.server --port 8000      # or: agentwatch serve --port 8000

SIGTERM (or the first Ctrl-C) drains instead of stopping at once:

1. readiness fails at once (``/readyz`` 503 ``shutting_down``), so the load balancer stops sending;
2. for ``AGENT_DRAIN_SECONDS`` the agent keeps accepting and serving — the endpoints' removal
   takes a moment to reach every proxy, and a closed port there means connection errors;
3. then uvicorn stops accepting, in-flight requests finish and the lifespan shutdown answers the
   inference queue, all within ``AGENT_SHUTDOWN_TIMEOUT_SECONDS``; the process exits.

Kubernetes' ``terminationGracePeriodSeconds`` must exceed the sum (the generator checks it). A
second signal skips the drain delay.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from types import FrameType
from typing import Any

__all__ = ["run"]

log = logging.getLogger("agentwatch.agent")

GIL_SWITCH_INTERVAL_S = 0.0005


def _draining_server_class() -> type:
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """uvicorn's server whose first SIGTERM/SIGINT starts a drain (see the module docstring)."""

        def __init__(self, config: uvicorn.Config, on_drain: Any, drain_s: float) -> None:
            super().__init__(config)
            self.on_drain, self.drain_s = on_drain, drain_s
            self.drain_until: float | None = None

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # Not recorded in _captured_signals: after a graceful drain the exit status is 0.
            if self.drain_until is None and not self.should_exit:
                self.drain_until = time.monotonic() + self.drain_s
                self.on_drain()  # sets a flag and a gauge: safe inside a signal handler
                return
            super().handle_exit(sig, frame)

        async def on_tick(self, counter: int) -> bool:
            if self.drain_until is not None and time.monotonic() >= self.drain_until:
                self.should_exit = True
            return await super().on_tick(counter)

    return DrainingServer


def _config(app: Any, **options: Any) -> Any:
    import uvicorn

    # uvicorn's own access log would duplicate the request metrics and bypass the JSON formatter.
    # uvloop and httptools (declared dependencies) when present: shedding load costs a third of
    # what asyncio's selector loop and h11 cost, and under overload that time is the admitted
    # requests' time.
    return uvicorn.Config(app, access_log=False, log_config=None, loop="auto", http="auto", **options)


async def _serve(app: Any, settings: Any, config: Any) -> None:
    import uvicorn

    service = app.state.service
    server = _draining_server_class()(config, service.drain, settings.drain_seconds)
    if not settings.admin_port:
        await server.serve()
        return
    from agentwatch.agent.probes import admin_app

    admin_config = _config(admin_app(service, app.state.telemetry), host=config.host, port=settings.admin_port,
                           lifespan="off", log_level=config.log_level)
    admin = uvicorn.Server(admin_config)
    admin.capture_signals = _no_signals  # type: ignore[method-assign]  # the API server owns them
    admin_task = asyncio.create_task(admin.serve(), name="admin-server")
    try:
        await server.serve()
    finally:
        admin.should_exit = True  # probes answer until the API server has drained and stopped
        await admin_task


def _no_signals() -> Any:
    import contextlib

    return contextlib.nullcontext()


def run(host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve the agent until SIGTERM/SIGINT; bad settings fail here with a one-line message."""
    from agentwatch.agent.settings import AgentSettings, SettingsError

    settings = AgentSettings.from_env()  # before the heavy imports: a typo fails in milliseconds
    if settings.admin_port == port:
        raise SettingsError(f"AGENT_ADMIN_PORT must differ from the API port {port}")

    from agentwatch.agent.app import create_app
    from agentwatch.telemetry import configure_logging

    configure_logging(log_level.upper())
    app = create_app(settings)
    # The inference thread gives up the GIL around every torch op and must win it back from the
    # event loop; under overload the loop is busy shedding and each handover waited up to the 5 ms
    # default (CPython's "convoy effect"), slowing a forward pass several times. At 0.5 ms the model
    # kept 0.74-1.08 of its sustainable throughput at 10x the rate, against 0.61-0.80 (same run,
    # alternating; bench/overload.py) on a contended machine; on a quiet one both were within the
    # rounds' scatter (README, Overload). Kept: it bounds the handover where it matters.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    config = _config(app, host=host, port=port, log_level=log_level.lower(),
                     timeout_graceful_shutdown=settings.shutdown_timeout_seconds)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(_serve(app, settings, config))


def main() -> None:
    parser = argparse.ArgumentParser(description="agentwatch reference agent")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    run(args.host, args.port, args.log_level)


if __name__ == "__main__":
    main()
