"""``agentwatch traces FILE``: draw exported traces (OTLP JSON lines) without Jaeger.

By default the slowest trace and the slowest failed one: a waterfall PNG each (next to the file,
or in ``--out``) and a tree on the terminal. ``--trace ID`` draws that trace only.
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["app", "traces"]

app = typer.Typer(add_completion=False)


@app.command("traces")
def traces(
    file: Path = typer.Argument(..., help="OTLP JSON lines (the Collector's file exporter format)."),
    trace: str | None = typer.Option(None, "--trace", help="Draw this trace id only."),
    out: Path | None = typer.Option(None, "--out", help="Folder for the PNGs (default: the file's folder)."),
    png: bool = typer.Option(True, "--png/--no-png", help="Write waterfall PNGs (else only the terminal tree)."),
) -> None:
    """Draw the slowest and one failed trace as waterfalls (PNG and terminal tree)."""
    from rich.console import Console

    from agentwatch.traces.otlp_json import read_spans
    from agentwatch.traces.waterfall import draw_waterfall, failed_trace, layout, slowest_trace, terminal_tree

    try:
        spans = read_spans(file)
    except OSError as exc:
        typer.echo(f"{file}:0: cannot read: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if not spans:
        typer.echo(f"{file}: no spans", err=True)
        raise typer.Exit(1)
    if trace is not None:
        chosen = [("trace", trace.lower())]
    else:
        chosen = [("slowest", slowest_trace(spans))]
        failed = failed_trace(spans)
        chosen.append(("failed", failed))
    console = Console()
    folder = out or file.parent
    for kind, trace_id in chosen:
        if trace_id is None:
            console.print(f"no {kind} trace among {len(spans)} spans")
            continue
        try:
            rows = layout(spans, trace_id)
        except KeyError as exc:
            typer.echo(f"{file}: {exc.args[0]}", err=True)
            raise typer.Exit(1) from None
        console.print(f"[bold]{kind} trace[/] ({len(rows)} spans)")
        console.print(terminal_tree(rows))
        if png:
            try:
                path = draw_waterfall(rows, folder / f"trace-{kind}-{trace_id[:8]}.png",
                                      title=f"{kind} trace {trace_id}")
            except ImportError:
                typer.echo("agentwatch traces: PNGs need matplotlib: pip install 'agentwatch[dashboards]' "
                           "(or --no-png)", err=True)
                raise typer.Exit(1) from None
            console.print(f"wrote {path}")
