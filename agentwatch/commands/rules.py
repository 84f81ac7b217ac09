"""``agentwatch generate rules``: recording, burn-rate and KPI rules, PrometheusRule, Alertmanager."""

from __future__ import annotations

from pathlib import Path

import typer

from agentwatch.cli import generate_app
from agentwatch.commands.spec import write_artefacts

__all__ = ["generate_rules"]


@generate_app.command("rules")
def generate_rules(
    spec: Path = typer.Option(Path("agentwatch.yaml"), "--spec", help="The agentwatch spec."),
    out: Path | None = typer.Option(None, "--out", help="Root to write alerts/generated/ and alerts/tests/ "
                                    "under (default: the spec's folder)."),
    time_scale: int = typer.Option(1, "--time-scale", min=1, help="Divide every window by N (demos only)."),
) -> None:
    """Write alerts/generated/*.yaml and the promtool tests in alerts/tests/ from the spec."""
    from agentwatch.alerts import write_all

    write_artefacts(lambda: write_all(spec, out, time_scale))
    if time_scale != 1:
        typer.echo(f"time-scaled by {time_scale}: for demos only, never deploy these rules", err=True)
