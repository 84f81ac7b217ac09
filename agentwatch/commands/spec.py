"""``agentwatch validate`` and ``agentwatch import sloth|openslo``.

Errors print as ``FILE:LINE: field: message (allowed: ...)``, one per line, exit code 1, no
traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import typer

from agentwatch.cli import app, import_app
from agentwatch.spec import SpecError, load_spec
from agentwatch.spec.imports import ImportResult, dump_spec

__all__ = ["import_openslo_command", "import_sloth_command", "validate"]


def fail(err: SpecError) -> typer.Exit:
    """Print a spec error on stderr and return the exit to raise."""
    typer.echo(str(err), err=True)
    return typer.Exit(1)


def write_artefacts(write: Callable[[], Iterable[Path]]) -> None:
    """Run a generator's writer, list what it wrote; a spec error is one message and exit 1."""
    try:
        written = list(write())
    except SpecError as err:
        raise fail(err) from None
    for path in written:
        typer.echo(str(path))


@app.command()
def validate(file: Path = typer.Argument(Path("agentwatch.yaml"), help="Spec file to check.")) -> None:
    """Validate an agentwatch spec: every problem as FILE:LINE: field: message."""
    try:
        spec = load_spec(file)
    except SpecError as err:
        raise fail(err) from None
    typer.echo(f"{file}: valid {spec.version} spec for {spec.service.name}: {len(spec.slos)} SLO(s) "
               f"({', '.join(s.name for s in spec.slos) or 'none'})")


def _run_import(kind: str, convert: Callable[[str, str], ImportResult], file: Path, out: Path | None) -> None:
    try:
        text = file.read_text()
    except OSError as exc:
        typer.echo(f"{file}:0: (root): cannot read the file: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    try:
        result = convert(text, str(file))
    except SpecError as err:
        raise fail(err) from None
    for dropped in result.dropped:
        typer.echo(f"{file}: not converted: {dropped}", err=True)
    text = dump_spec(result, str(file), kind)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        typer.echo(f"wrote {out} ({len(result.spec.slos)} SLO(s), {len(result.dropped)} field(s) not converted)",
                   err=True)


@import_app.command("sloth")
def import_sloth_command(file: Path = typer.Argument(..., help="Sloth prometheus/v1 spec."),
                         out: Path | None = typer.Option(None, "-o", "--out", help="Write here, not stdout.")
                         ) -> None:
    """Convert a Sloth prometheus/v1 spec to an agentwatch spec."""
    from agentwatch.spec.sloth import import_sloth

    _run_import("sloth", import_sloth, file, out)


@import_app.command("openslo")
def import_openslo_command(file: Path = typer.Argument(..., help="OpenSLO v1 file (SLO and SLI documents)."),
                           out: Path | None = typer.Option(None, "-o", "--out", help="Write here, not stdout.")
                           ) -> None:
    """Convert OpenSLO v1 SLO/SLI documents to an agentwatch spec."""
    from agentwatch.spec.openslo import import_openslo

    _run_import("openslo", import_openslo, file, out)
