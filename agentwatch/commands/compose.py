"""``agentwatch generate compose``: the compose stack's Alertmanager and OTel Collector configs."""

from __future__ import annotations

from pathlib import Path

import typer

from agentwatch.cli import generate_app
from agentwatch.commands.spec import write_artefacts

__all__ = ["generate_compose"]


@generate_app.command("compose")
def generate_compose(
    spec: Path = typer.Option(Path("agentwatch.yaml"), "--spec", help="The agentwatch spec."),
    out: Path | None = typer.Option(None, "--out", help="Root to write compose/alertmanager/ and "
                                    "otel-collector/ under (default: the spec's folder)."),
) -> None:
    """Write compose/generated/alertmanager.yaml and otel-collector/generated/config.yaml from the spec."""
    from agentwatch.compose import write_compose

    write_artefacts(lambda: write_compose(spec, out))
