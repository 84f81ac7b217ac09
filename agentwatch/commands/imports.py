"""``agentwatch import sloth|openslo``: a foreign SLO spec → an agentwatch spec.

Errors print as ``FILE:LINE: field: message (allowed: ...)``, one per line, exit code 1, no
traceback. Every foreign field that does not convert is printed on stderr as
``FILE:LINE: path: not converted: reason``; then the command exits 1 and writes nothing, unless
``--allow-partial`` accepts the loss (the spec is written, its header lists what was left out, exit 0).
So a pipeline never gets a spec that quietly lost an SLO or an alert setting.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from agentwatch.commands.common import die
from agentwatch.spec import SpecError

__all__ = ["app"]

app = typer.Typer(help="Convert a foreign SLO spec (Sloth, OpenSLO) to an agentwatch spec.", no_args_is_help=True)

_PARTIAL = typer.Option(False, "--allow-partial",
                        help="Write the spec even if some fields do not convert (they are listed on stderr "
                             "and in the spec's header); without it such a file exits 1 and writes nothing.")


def _run_import(kind: str, convert: Callable, file: Path, out: Path | None, allow_partial: bool) -> None:
    from agentwatch.spec.imports import dump_spec

    try:
        text = file.read_text()
    except OSError as exc:
        die(f"{file}:0: (root): cannot read the file: {exc.strerror}")
    try:
        result = convert(text, str(file))
    except SpecError as err:
        die(str(err))
    for message in result.messages(str(file)):
        typer.echo(message, err=True)
    if result.skipped and not allow_partial:
        die(f"{file}: {len(result.skipped)} field(s) not converted, so nothing was written; "
            "pass --allow-partial to write the spec without them")
    text = dump_spec(result, str(file), kind)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        typer.echo(f"wrote {out} ({len(result.spec.slos)} SLO(s), {len(result.skipped)} field(s) not converted)",
                   err=True)


@app.command("sloth")
def import_sloth(file: Path = typer.Argument(..., help="Sloth prometheus/v1 spec."),
                 out: Path | None = typer.Option(None, "-o", "--out", help="Write here, not stdout."),
                 allow_partial: bool = _PARTIAL) -> None:
    """Convert a Sloth prometheus/v1 spec to an agentwatch spec."""
    from agentwatch.spec.sloth import import_sloth as convert

    _run_import("sloth", convert, file, out, allow_partial)


@app.command("openslo")
def import_openslo(file: Path = typer.Argument(..., help="OpenSLO v1 file (SLO and SLI documents)."),
                   out: Path | None = typer.Option(None, "-o", "--out", help="Write here, not stdout."),
                   allow_partial: bool = _PARTIAL) -> None:
    """Convert OpenSLO v1 SLO/SLI documents to an agentwatch spec."""
    from agentwatch.spec.openslo import import_openslo as convert

    _run_import("openslo", convert, file, out, allow_partial)
