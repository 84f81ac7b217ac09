"""``agentwatch capacity``: ramp one pinned agent until the spec's latency SLO breaks.

Writes ``capacity.json`` (steps, capacity, knee, autoscaling targets, resources, raw samples),
``capacity.png`` and ``capacity-spec.yaml`` (the fragment to merge into the spec) to ``--out``
(default ``bench/results``; ``--quick``: ``bench/results/quick``).
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["app", "capacity"]

app = typer.Typer(add_completion=False)


@app.command("capacity")
def capacity(
    spec: Path = typer.Option(Path("agentwatch.yaml"), "--spec", help="Spec whose latency SLO the ramp must hold."),
    quick: bool = typer.Option(False, "--quick", help="A steep ramp in short steps (under a minute)."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default bench/results, quick: .../quick)."),
    torch_threads: int = typer.Option(1, "--torch-threads", min=1, help="AGENT_TORCH_THREADS of the agent."),
    pin: bool = typer.Option(True, "--pin/--no-pin", help="Pin the agent to one CPU with taskset."),
    utilisation: float = typer.Option(0.7, "--utilisation", min=0.05, max=1.0,
                                      help="Share of capacity a pod runs at (the autoscaling targets' rule)."),
    peak_rate: float | None = typer.Option(None, "--peak-rate", min=0.0, help="Peak msg/s to size replicas for."),
    step_seconds: float | None = typer.Option(None, "--step-seconds", min=2, help="Seconds per ramp step."),
    step_users: int | None = typer.Option(None, "--step-users", min=1, help="Users added per ramp step."),
) -> None:
    """Measure the highest msg/s one agent sustains at the SLO, the knee, and what to autoscale on."""
    from dataclasses import replace

    from rich.console import Console
    from rich.table import Table

    from agentwatch.load.runner import LoadError, require_locust
    from agentwatch.spec import SpecError

    console = Console()
    try:
        require_locust()
        from agentwatch.capacity.fragment import spec_fragment
        from agentwatch.capacity.run import FULL, QUICK, CapacitySettings, command_line, run_capacity, write
    except (LoadError, ImportError) as exc:
        typer.echo(f"agentwatch capacity: {exc}", err=True)
        raise typer.Exit(1) from None
    ramp = QUICK if quick else FULL
    if step_seconds is not None:
        ramp = replace(ramp, step_seconds=step_seconds)
    if step_users is not None:
        ramp = replace(ramp, step_users=step_users)
    settings = CapacitySettings(spec=spec, quick=quick, ramp=ramp, torch_threads=torch_threads, pin=pin,
                                utilisation=utilisation, peak_rate=peak_rate, command=command_line())
    try:
        result = run_capacity(settings, log=lambda text: console.print(text, highlight=False))
    except ImportError as exc:
        typer.echo(f"agentwatch capacity: runs the agent and plots: pip install 'agentwatch[agent,load,dashboards]' "
                   f"({exc.name} is missing)", err=True)
        raise typer.Exit(1) from None
    except SpecError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1) from None
    except (ValueError, LoadError) as exc:
        typer.echo(f"agentwatch capacity: {exc}", err=True)
        raise typer.Exit(1) from None
    out_dir = out or (Path("bench/results/quick") if quick else Path("bench/results"))
    try:
        json_path, png_path = write(result, out_dir)
    except ImportError:
        typer.echo("agentwatch capacity: the plot needs matplotlib: pip install 'agentwatch[dashboards]'", err=True)
        raise typer.Exit(1) from None
    fragment = spec_fragment(result, str(json_path))
    (out_dir / "capacity-spec.yaml").write_text(fragment)

    table = Table(title=f"capacity ramp ({result['settings']['pinning']}; torch threads {torch_threads})")
    for column in result["rows"][0] if result["rows"] else []:
        table.add_column(column, justify="right")
    for row in result["rows"]:
        table.add_row(*("—" if v is None else ("yes" if v is True else "no" if v is False else str(v))
                        for v in row.values()))
    console.print(table)
    for note in result["notes"]:
        console.print(f"- {note}", highlight=False)
    console.print(fragment, highlight=False, markup=False)
    console.print(f"wrote {json_path}, {png_path} and {out_dir / 'capacity-spec.yaml'}")
    if result["load"]["turns_lost"]:
        typer.echo(f"agentwatch capacity: {result['load']['turns_lost']} acknowledged turn(s) lost", err=True)
        raise typer.Exit(1)
