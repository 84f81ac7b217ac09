"""``agentwatch generate compose``: the compose stack's Alertmanager and OTel Collector configs."""

from __future__ import annotations

from pathlib import Path

import typer

from agentwatch.cli import generate_app
from agentwatch.commands.spec import fail
from agentwatch.spec import SpecError

__all__ = ["generate_compose"]


@generate_app.command("compose")
def generate_compose(
    spec: Path = typer.Option(Path("agentwatch.yaml"), "--spec", help="The agentwatch spec."),
    out: Path | None = typer.Option(None, "--out", help="Root to write compose/alertmanager/ and "
                                    "otel-collector/ under (default: the spec's folder)."),
) -> None:
    """Write compose/alertmanager/alertmanager.yaml and otel-collector/config.yaml from the spec."""
    from agentwatch.compose import write_compose

    try:
        written = write_compose(spec, out)
    except SpecError as err:
        raise fail(err) from None
    for path in written:
        typer.echo(str(path))
