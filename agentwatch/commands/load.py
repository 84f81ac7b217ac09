"""``agentwatch load``: the support-queue customers (Locust, headless) against one or more agents.

Writes Locust's CSV statistics and history plus the ledger to ``--out``, reads every
acknowledged turn back, prints the summary and writes it as ``summary.json``. Exit code 1 when a
turn was lost or no message was answered; 2 for bad options.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

__all__ = ["app", "load"]

app = typer.Typer(add_completion=False)

#: Run time when ``--duration`` is not given, by shape.
DEFAULT_DURATION = {"steady": "60s", "ramp": "30m", "spike": "10m", "soak": "1h"}


def _think(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    try:
        return float(low), float(high or low)
    except ValueError:
        raise typer.BadParameter(f"expected MIN,MAX seconds such as 1,3, got {text!r}",
                                 param_hint="--think-time") from None


@app.command("load")
def load(
    url: list[str] = typer.Option(None, "--url", help="Agent base URL (repeat for several instances)."),
    shape: str = typer.Option("steady", "--shape", envvar="LOAD_SHAPE",
                              help="steady, ramp, spike or soak (env LOAD_SHAPE)."),
    duration: str | None = typer.Option(None, "--duration",
                                        help="Run time, e.g. 90s, 10m (default: steady 60s, ramp 30m, "
                                             "spike 10m, soak 1h)."),
    users: int = typer.Option(20, "--users", min=1, help="Users (customer seats); the base count of a shape."),
    spawn_rate: float | None = typer.Option(None, "--spawn-rate", min=0.1, help="Users started per second."),
    think_time: str = typer.Option("1,3", "--think-time", help="MIN,MAX seconds between a customer's turns."),
    probes: bool = typer.Option(True, "--probes/--no-probes", help="Include malformed requests (expected 4xx)."),
    spec: Path = typer.Option(Path("agentwatch.yaml"), "--spec", help="Spec with the SLO a ramp step must hold."),
    step_users: int = typer.Option(10, "--step-users", min=1, help="ramp: users added per step."),
    step_seconds: float = typer.Option(20.0, "--step-seconds", min=1, help="ramp: seconds per step."),
    spike_factor: float = typer.Option(5.0, "--spike-factor", min=1, help="spike: users times this in the surge."),
    out: Path = typer.Option(Path("load-output"), "--out", help="Folder for the CSVs, ledger and summary.json."),
    wait: float = typer.Option(0.0, "--wait", min=0, help="Seconds to wait for every /readyz first."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Read every acknowledged turn back."),
    seed: int | None = typer.Option(None, "--seed", help="Seed the customers' choices."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON instead of a table."),
    show_locustfile: bool = typer.Option(False, "--locustfile",
                                         help="Print the locustfile's path (for `locust -f`) and exit."),
) -> None:
    """Run realistic customer load (Locust, headless) and check that no acknowledged turn was lost."""
    from agentwatch.durations import DurationError, parse_duration
    from agentwatch.load.runner import LoadError, LoadRun, LoadSpec, locustfile, require_locust, wait_ready
    from agentwatch.load.shapes import SHAPES, ShapeOptions

    try:
        require_locust()
    except LoadError as exc:
        typer.echo(f"agentwatch load: {exc}", err=True)
        raise typer.Exit(1) from None
    if show_locustfile:
        with locustfile() as path:
            typer.echo(str(path))
        return
    if not url:
        raise typer.BadParameter("give at least one agent URL", param_hint="--url")
    if shape not in SHAPES:
        raise typer.BadParameter(f"unknown shape {shape!r} (allowed: {', '.join(SHAPES)})", param_hint="--shape")
    try:
        seconds = float(parse_duration(duration or DEFAULT_DURATION[shape]))
    except DurationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--duration") from None
    slo: dict[str, float] = {}
    if shape == "ramp":
        slo = _slo_from_spec(spec)
    try:
        options = ShapeOptions(users=users, seconds=seconds, spawn_rate=spawn_rate, step_users=step_users,
                               step_seconds=step_seconds, spike_factor=spike_factor, **slo)
        load_spec = LoadSpec(tuple(u.rstrip("/") for u in url), shape, options, _think(think_time), probes, seed)
    except (ValueError, LoadError) as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        if wait:
            wait_ready(load_spec.targets, wait)
        run = LoadRun(load_spec, out, verify=verify).start()
        typer.echo(f"load: {shape} for {seconds:g}s against {', '.join(load_spec.targets)}; Locust output in "
                   f"{run.log_path}", err=True)
        summary = run.wait()
    except LoadError as exc:
        typer.echo(f"agentwatch load: {exc}", err=True)
        raise typer.Exit(1) from None
    (out / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        from rich.console import Console

        from agentwatch.load.summary import render

        Console().print(render(summary))
        typer.echo(f"wrote {out / 'summary.json'} and Locust's CSVs in {out}")
    if summary.turns_lost or not summary.messages:
        typer.echo(f"agentwatch load: {summary.turns_lost} acknowledged turn(s) lost, "
                   f"{summary.messages} message(s) sent", err=True)
        raise typer.Exit(1)


def _slo_from_spec(spec: Path) -> dict[str, float]:
    from agentwatch.commands.common import die, load_spec_or_exit
    from agentwatch.load.slo import MessageSLO

    try:
        slo = MessageSLO.from_spec(load_spec_or_exit(spec))
    except ValueError as exc:
        die(f"{spec}: {exc}")
    return {"slo_latency": slo.threshold, "slo_objective": slo.objective, "slo_error_ratio": slo.error_ratio}
