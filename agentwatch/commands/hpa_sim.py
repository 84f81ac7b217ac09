"""``agentwatch hpa-sim``: replay a load through the HPA controller's algorithm.

    agentwatch hpa-sim --hpa FILE --load LOAD.csv [--replicas N] [--ready-after SECONDS]
                       [--sync-period 15] [--out OUT.csv] [--plot OUT.png]
    agentwatch hpa-sim --hpa FILE --prometheus URL --since 1h [--spec agentwatch.yaml] ...

A bad HPA or load file is one ``FILE:LINE: field: message`` line and exit 1; bad options exit 2.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import typer

from agentwatch.commands.common import die
from agentwatch.spec.loader import SpecError

__all__ = ["app", "hpa_sim"]

app = typer.Typer(pretty_exceptions_enable=False)


def _usage(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(2)


@app.command("hpa-sim")
def hpa_sim(
    hpa: Path = typer.Option(..., "--hpa", help="YAML holding an autoscaling/v2 HorizontalPodAutoscaler "
                             "(other documents are ignored)."),
    load: Path | None = typer.Option(None, "--load", help="CSV: time_s,<metric>,... one column per Pods "
                                     "metric; count metrics are service-wide totals, average metrics what "
                                     "every pod reports; values hold until the next row."),
    prometheus: str | None = typer.Option(None, "--prometheus", help="Build the load from this Prometheus "
                                          "with the adapter's own queries (instead of --load); with --out, "
                                          "the load is saved beside it as OUT.load.csv."),
    since: str = typer.Option("1h", "--since", help="With --prometheus: how far back."),
    spec: Path = typer.Option(Path("agentwatch.yaml"), "--spec", help="With --prometheus: the spec the "
                              "adapter rules are generated from."),
    replicas: int | None = typer.Option(None, "--replicas", help="Replicas at t=0 (default minReplicas)."),
    ready_after: float | None = typer.Option(None, "--ready-after", help="Seconds before a new pod is ready "
                                             "(default: the measured cold start)."),
    sync_period: float = typer.Option(15.0, "--sync-period", help="Seconds between controller syncs."),
    out: Path | None = typer.Option(None, "--out", help="Write time_s,replicas,desired here (default stdout)."),
    plot: Path | None = typer.Option(None, "--plot", help="Draw load, per-pod value vs target and replicas."),
) -> None:
    """Replay a load through the HPA controller's algorithm (Pods metrics, AverageValue targets)."""
    from agentwatch.autoscaling.coldstart import measured_cold_start_s
    from agentwatch.autoscaling.load import read_load, write_load
    from agentwatch.autoscaling.manifest import load_hpa
    from agentwatch.autoscaling.sim import SimError, pods_metric_names, simulate

    if (load is None) == (prometheus is None):
        raise _usage("give exactly one of --load FILE and --prometheus URL")
    if sync_period <= 0:
        raise _usage(f"--sync-period must be greater than 0, got {sync_period:g}")
    if ready_after is not None and ready_after < 0:
        raise _usage(f"--ready-after must be 0 or more, got {ready_after:g}")
    if replicas is not None and replicas < 0:
        raise _usage(f"--replicas must be 0 or more, got {replicas}")
    if plot is not None:
        _require_matplotlib()
    try:
        hpa_spec = load_hpa(hpa)
        names = pods_metric_names(hpa_spec)
        if load is not None:
            the_load = read_load(load, names)
        else:
            from agentwatch.autoscaling.from_prometheus import load_from_prometheus
            from agentwatch.spec import load_spec

            the_load = load_from_prometheus(prometheus or "", hpa_spec, load_spec(spec), since, sync_period)
            if out is not None:
                write_load(out.with_suffix(".load.csv"), the_load)
    except SpecError as err:
        die(str(err))
    except SimError as err:
        die(f"{hpa}: {err}")
    except ValueError as err:  # --since, an unreachable Prometheus
        raise _usage(str(err)) from None
    cold = measured_cold_start_s()
    ready = ready_after if ready_after is not None else (cold if cold is not None else 0.0)
    rows = simulate(hpa_spec, the_load, replicas, ready, sync_period)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["time_s", "replicas", "desired"])
    for row in rows:
        writer.writerow([f"{row.time:g}", row.replicas, row.desired])
    if out is None:
        sys.stdout.write(text.getvalue())
    else:
        out.write_text(text.getvalue())
        changes = sum(1 for r in rows if r.desired != r.replicas)
        typer.echo(f"wrote {out}: {len(rows)} syncs, {changes} rescales, replicas "
                   f"{min(r.desired for r in rows)}..{max(r.desired for r in rows)} (ready after {ready:g}s)",
                   err=True)
    if plot is not None:
        from agentwatch.autoscaling.plot import plot_replay

        plot_replay(plot, hpa_spec, the_load, rows)
        typer.echo(f"wrote {plot}", err=True)


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        typer.echo("--plot needs matplotlib: install agentwatch[dashboards]", err=True)
        raise typer.Exit(1) from None
