"""The ``agentwatch`` command: it composes the command modules and nothing else.

Each ``agentwatch.commands`` module owns its typer app and never imports this one; heavy imports
happen inside the commands, so ``agentwatch --help`` stays fast and works without any extra.
"""

from __future__ import annotations

import typer

from agentwatch.commands import (
    capacity,
    dashboards,
    generate,
    hpa_sim,
    imports,
    lab,
    load,
    recommend,
    serve,
    traces,
    validate,
    version,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="agentwatch",
    help="Observability, SLOs and autoscaling for AI-agent deployments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Single-command modules contribute their commands at the top level; groups keep their name.
for _module in (serve, validate, generate, version, load, capacity, recommend, traces, hpa_sim, lab):
    app.registered_commands += _module.app.registered_commands
app.add_typer(imports.app, name="import")
app.add_typer(dashboards.app, name="dashboards")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
