"""``agentwatch generate k8s``: kustomize base and the hpa / keda overlays under k8s/."""

from __future__ import annotations

from pathlib import Path

import typer

from agentwatch.cli import generate_app
from agentwatch.commands.spec import write_artefacts

__all__ = ["generate_k8s"]


@generate_app.command("k8s")
def generate_k8s(
    spec: Path = typer.Option(Path("agentwatch.yaml"), "--spec", help="The agentwatch spec."),
    out: Path | None = typer.Option(None, "--out", help="Root to write k8s/ under (default: the spec's folder)."),
) -> None:
    """Write k8s/generated/base and k8s/generated/overlays/{hpa,keda} (apply one overlay with `kubectl apply -k`)."""
    from agentwatch.k8s import write_all

    write_artefacts(lambda: write_all(spec, out))
