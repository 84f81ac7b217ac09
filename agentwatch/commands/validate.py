"""``agentwatch validate``: every problem of a spec as ``FILE:LINE: field: message``, exit 1."""

from __future__ import annotations

from pathlib import Path

import typer

from agentwatch.commands.common import DEFAULT_SPEC, load_spec_or_exit

__all__ = ["app"]

app = typer.Typer()


@app.command()
def validate(file: Path = typer.Argument(DEFAULT_SPEC, help="Spec file to check.")) -> None:
    """Validate an agentwatch spec: every problem as FILE:LINE: field: message."""
    spec = load_spec_or_exit(file)
    typer.echo(f"{file}: valid {spec.version} spec for {spec.service.name}: {len(spec.slos)} SLO(s) "
               f"({', '.join(s.name for s in spec.slos) or 'none'})")
