"""``agentwatch serve``: run the reference agent (settings from the environment, see the README)."""

from __future__ import annotations

import typer

from agentwatch.commands.common import die

__all__ = ["app"]

app = typer.Typer()

_LEVELS = ("critical", "error", "warning", "info", "debug")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 in a container)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    log_level: str = typer.Option("info", help="One of: " + ", ".join(_LEVELS) + "."),
) -> None:
    """Run the reference customer-service agent (REDIS_URL and AGENT_* from the environment)."""
    if log_level.lower() not in _LEVELS:
        raise typer.BadParameter(f"must be one of {', '.join(_LEVELS)}", param_hint="--log-level")
    try:
        from agentwatch.agent.server import run
        from agentwatch.agent.settings import SettingsError
    except ImportError as exc:
        die(f"agentwatch serve: needs the {exc.name} package: pip install 'agentwatch[agent]'")
    try:
        run(host, port, log_level)
    except SettingsError as exc:
        die(f"agentwatch serve: invalid setting: {exc}")
