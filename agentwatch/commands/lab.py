"""``agentwatch lab``: the autoscaling lab (HPA controller + real agents + real Prometheus + load).

    agentwatch lab [--scenario agent|cpu|prewarm ...] [--quick] [--out DIR]

Writes ``autoscaling-lab.md``, ``autoscaling-lab.png`` and each scenario's JSON, HPA, recorded
load and hpa-sim replay under ``--out``.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

__all__ = ["app", "lab"]

app = typer.Typer(pretty_exceptions_enable=False)


@app.command("lab")
def lab(
    scenario: list[str] = typer.Option(["agent", "cpu", "prewarm"], "--scenario",
                                       help="agent (queue length + inference time), cpu (CPU only), prewarm "
                                            "(agent, floor raised before the spike); repeatable."),
    quick: bool = typer.Option(False, "--quick", help="The ~90 s version: min 1, max 3, one short spike, "
                               "shortened windows."),
    out: Path = typer.Option(Path("lab-output"), "--out", help="Where the report, PNG and data go."),
    spec: Path = typer.Option(Path("agentwatch.yaml"), "--spec", help="The spec the HPA and adapter come from."),
    report_only: bool = typer.Option(False, "--report-only", help="Re-render the report from the JSON a run "
                                     "already wrote under --out (no services started)."),
) -> None:
    """Run the HPA's algorithm in a closed loop with real agents through a load spike and report."""
    from agentwatch.autoscaling.lab import SCENARIOS, LabConfig, run_scenario
    from agentwatch.autoscaling.lab_report import compare_with_sim, write_report
    from agentwatch.commands.common import load_spec_or_exit
    from agentwatch.local.processes import RedisServer

    unknown = [s for s in scenario if s not in SCENARIOS]
    if unknown:
        typer.echo(f"Error: unknown scenario(s) {unknown} (allowed: {', '.join(SCENARIOS)})", err=True)
        raise typer.Exit(2)
    the_spec = load_spec_or_exit(spec)
    cfg = LabConfig.quick() if quick else LabConfig()
    out.mkdir(parents=True, exist_ok=True)
    results = []
    if report_only:
        from agentwatch.autoscaling.lab_report import load_results

        results = load_results(out, list(dict.fromkeys(scenario)))
    else:
        with RedisServer() as redis:
            for name in dict.fromkeys(scenario):
                results.append(run_scenario(the_spec, cfg, name, out, redis=redis,  # type: ignore[arg-type]
                                            log=lambda line: typer.echo(line, err=True)))
    comparison = None
    agent = next((r for r in results if r.scenario == "agent" and r.replay_load is not None), None)
    if agent is not None:
        comparison = compare_with_sim(agent, out / "lab-hpa-agent.yaml", out)
    command = "agentwatch " + " ".join(shlex.quote(a) for a in sys.argv[1:] if a != "--report-only") \
        if sys.argv[1:2] == ["lab"] else \
        f"agentwatch lab {' '.join('--scenario ' + s for s in scenario)}{' --quick' if quick else ''}"
    report = write_report(out, results, comparison, command)
    typer.echo(f"wrote {report} and {out / 'autoscaling-lab.png'}", err=True)
    lost = sum(r.lost_turns for r in results)
    if lost:
        typer.echo(f"{lost} acknowledged turn(s) lost", err=True)
        raise typer.Exit(1)
