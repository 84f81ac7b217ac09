"""``agentwatch version``."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer()


@app.command()
def version() -> None:
    """Print the agentwatch version."""
    from agentwatch import __version__

    typer.echo(__version__)
