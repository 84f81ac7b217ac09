"""Run the agent with uvicorn: JSON logs, settings from the environment, clean shutdown.

Usage::

    python -m agentwatch.agent.server --port 8000      # or: agentwatch serve --port 8000
"""

from __future__ import annotations

import argparse

__all__ = ["run"]


def run(host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve the agent until SIGTERM/SIGINT; bad settings fail here with a one-line message."""
    from agentwatch.agent.settings import AgentSettings

    settings = AgentSettings.from_env()  # before the heavy imports: a typo fails in milliseconds

    import uvicorn

    from agentwatch.agent.app import create_app
    from agentwatch.telemetry import configure_logging

    configure_logging(log_level.upper())
    app = create_app(settings)
    # uvicorn's own access log would duplicate the request metrics and bypass the JSON formatter.
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), access_log=False,
                log_config=None, timeout_graceful_shutdown=10)


def main() -> None:
    parser = argparse.ArgumentParser(description="agentwatch reference agent")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    run(args.host, args.port, args.log_level)


if __name__ == "__main__":
    main()
