"""``agentwatch generate [FAMILY...] [--check]``: the whole build, or some families, from one spec.

The spec is loaded once; every family renders from it (``agentwatch.families``); one writer writes
the result under ``--out`` (default: the spec's folder). ``--check`` writes nothing and exits 1
naming every file that differs from what is on disk, for a CI step like kubernetes-mixin's.
"""

from __future__ import annotations

from pathlib import Path

import typer

from agentwatch.commands.common import DEFAULT_SPEC, die, load_spec_or_exit

__all__ = ["app"]

app = typer.Typer()


@app.command()
def generate(
    families: list[str] = typer.Argument(None, metavar="[FAMILY]...",
                                         help="rules, dashboards, k8s, compose, collector, or all (default)."),
    spec: Path = typer.Option(DEFAULT_SPEC, "--spec", help="The agentwatch spec file."),
    out: Path | None = typer.Option(None, "--out", help="Output root (default: the spec's folder)."),
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 naming every stale or missing file."),
    time_scale: int = typer.Option(1, "--time-scale", min=1,
                                   help="rules only: divide every window by N (demos; never deploy these)."),
) -> None:
    """Generate the committed artefacts (rules, dashboards, manifests, configs) from the spec."""
    from agentwatch.artefacts import stale_files, stamp, write_files
    from agentwatch.docs import README, readme_update
    from agentwatch.families import MissingExtra, UnknownFamily, render_all, select

    names = families or []
    try:
        chosen = select(names)
    except UnknownFamily as exc:
        raise typer.BadParameter(str(exc), param_hint="FAMILY") from None
    if time_scale != 1 and [f.name for f in chosen] != ["rules"]:
        raise typer.BadParameter("applies to the rules family only: agentwatch generate rules --time-scale N",
                                 param_hint="--time-scale")
    loaded = load_spec_or_exit(spec)
    root = spec.parent if out is None else out
    try:
        if time_scale != 1:
            from agentwatch.alerts import render as render_rules

            files = stamp(render_rules(loaded, time_scale), loaded.source)
        else:
            files = render_all(loaded, names)
    except MissingExtra as exc:
        die(f"agentwatch generate: {exc}")
    # The README's metric table is a generated section of a hand-written file: only with every family.
    readme = root / README
    section = readme_update(readme.read_text()) if len(chosen) == len(select()) and readme.is_file() else None
    if check:
        stale = stale_files(files, root) + ([README] if section is not None and section[1] else [])
        for path in stale:
            typer.echo(f"stale: {root / path}", err=True)
        if stale:
            die(f"{len(stale)} generated file(s) differ from `agentwatch generate`: run it and commit the result")
        typer.echo(f"{len(files)} generated file(s) up to date under {root}")
        return
    for path in write_files(files, root):
        typer.echo(str(path))
    if section is not None and section[1]:
        readme.write_text(section[0])
        typer.echo(str(readme))
    if time_scale != 1:
        typer.echo(f"time-scaled by {time_scale}: for demos only, never deploy these rules", err=True)
