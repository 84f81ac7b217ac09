"""``agentwatch recommend``: CPU and memory requests/limits (and replicas) from a measured profile.

From a live Prometheus (``--prometheus URL --since 1h``) or from a capacity run (``--capacity
bench/results/capacity.json``), or both (Prometheus for usage, the capacity run for the per-pod
throughput the replica count assumes). Prints a table and writes the spec fragment (``--out``);
merge it into ``agentwatch.yaml`` and ``agentwatch generate`` carries it into the Deployment.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

__all__ = ["app", "recommend"]

app = typer.Typer(add_completion=False)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"agentwatch recommend: {message}", err=True)
    return typer.Exit(code)


@app.command("recommend")
def recommend(
    prometheus: str | None = typer.Option(None, "--prometheus", help="Prometheus base URL to read usage from."),
    since: str = typer.Option("1h", "--since", help="Window to read, back from now (e.g. 30m, 1h, 7d)."),
    step: str = typer.Option("15s", "--step", help="Resolution of the range queries (the scrape interval)."),
    rate_window: str = typer.Option("1m", "--rate-window", help="rate() window for CPU and message rate."),
    capacity: Path | None = typer.Option(None, "--capacity", help="A capacity run's JSON (agentwatch capacity)."),
    per_pod_rate: float | None = typer.Option(None, "--per-pod-rate", min=0.001,
                                              help="msg/s one pod serves at the SLO (instead of --capacity)."),
    peak_rate: float | None = typer.Option(None, "--peak-rate", min=0.0, help="Peak msg/s to size replicas for."),
    spec: Path = typer.Option(Path("agentwatch.yaml"), "--spec", help="Spec for the selector and namespace."),
    cpu_percentile: float = typer.Option(95.0, "--cpu-percentile", min=1, max=100, help="CPU request percentile."),
    memory_headroom: float = typer.Option(0.15, "--memory-headroom", min=0, help="Added to the peak memory."),
    utilisation: float = typer.Option(0.7, "--utilisation", min=0.05, max=1.0,
                                      help="Share of the per-pod capacity to plan replicas at."),
    out: Path | None = typer.Option(None, "--out", help="Write the spec fragment here (default: print it)."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the recommendation as JSON here."),
) -> None:
    """Requests and limits from percentiles of measured CPU and peak memory, KRR-style."""
    from rich.console import Console

    from agentwatch.capacity.recommend import (
        Policy,
        Profile,
        profile_from_capacity,
    )
    from agentwatch.capacity.recommend import recommend as compute
    from agentwatch.durations import DurationError

    if prometheus is None and capacity is None:
        raise typer.BadParameter("give --prometheus URL, --capacity FILE or both")
    try:
        policy = Policy(cpu_percentile, memory_headroom, utilisation)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    result = None
    if capacity is not None:
        try:
            result = json.loads(capacity.read_text())
        except OSError as exc:
            raise _fail(f"{capacity}: cannot read: {exc.strerror}") from None
        except json.JSONDecodeError:
            result = None
        if not isinstance(result, dict) or not {"steps", "samples", "capacity"} <= result.keys():
            raise _fail(f"{capacity}: not a capacity run's JSON (agentwatch capacity writes one)")
    pod_rate = per_pod_rate
    pod_source = "--per-pod-rate" if per_pod_rate is not None else None
    if pod_rate is None and result is not None and result.get("capacity"):
        pod_rate, pod_source = result["capacity"]["throughput"], str(capacity)
    try:
        if prometheus is not None:
            profile = _prometheus_profile(prometheus, since, step, rate_window, spec, pod_rate, pod_source)
        else:
            assert result is not None
            profile = profile_from_capacity(result, str(capacity), utilisation)
            if per_pod_rate is not None:
                profile = Profile(profile.source, profile.window, profile.cpu_cores, profile.memory_bytes,
                                  profile.message_rate, per_pod_rate, "--per-pod-rate")
        rec = compute(profile, policy, peak_rate)
    except DurationError as exc:
        raise typer.BadParameter(str(exc)) from None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    Console().print(rec.table())
    fragment = rec.fragment()
    if out is None:
        typer.echo(fragment, nl=False)
    else:
        out.write_text(fragment)
        typer.echo(f"wrote {out}")
    if json_out is not None:
        json_out.write_text(json.dumps(rec.to_dict(), indent=2) + "\n")
        typer.echo(f"wrote {json_out}")


def _prometheus_profile(url: str, since: str, step: str, rate_window: str, spec_path: Path,
                        pod_rate: float | None, pod_source: str | None) -> object:
    from agentwatch import promql as q
    from agentwatch.capacity.recommend import profile_from_prometheus
    from agentwatch.commands.common import load_spec_or_exit
    from agentwatch.durations import parse_duration
    from agentwatch.prometheus_api import PrometheusAPI, PrometheusError

    window, resolution = float(parse_duration(since)), float(parse_duration(step))
    parse_duration(rate_window)
    selector, namespace = "", None
    if spec_path.exists():
        spec = load_spec_or_exit(spec_path)
        selector = q.selector(**spec.service.selector)
        namespace = spec.autoscaling.namespace if spec.autoscaling else None
    try:
        return profile_from_prometheus(PrometheusAPI(url), window, step=resolution, rate_window=rate_window,
                                       selector=selector, namespace=namespace, capacity=pod_rate,
                                       capacity_source=pod_source)
    except PrometheusError as exc:
        raise _fail(str(exc)) from None
