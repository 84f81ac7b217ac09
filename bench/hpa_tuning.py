"""Choosing the signal smoothing and the scale-up stabilisation by replay, not by guess.

Input: the autoscaling lab's ``agent`` run (``lab-agent.json``): every pod's raw queue length at the
scrape interval (15 s) through a calm baseline and then the real spike. *One bursty scrape* is
added to the calm part: at the burst's time every pod's sample reads the highest queue that pod
showed in the spike's first 45 s (a real level, seen once). For each smoothing window W
(``avg_over_time`` over W; 15 s is a single scrape, the raw gauge the old manifests used) the
adapter's per-pod value is recomputed from the samples, and for each scale-up stabilisation
window S the load is replayed through the HPA controller
(:func:`agentwatch.autoscaling.sim.simulate`, pods ready after the lab's median cold start), side
by side in one run:

- *burst*: pods the one bursty scrape added (each then held for the 5-minute scale-down window);
- *spike*: seconds from the spike's start to the scale-up decision, and to ready capacity.

The choice: among windows of at least two scrapes (``rate()`` needs two samples, and the
inference-time rule shares the window), the fastest ready capacity for the spike among the
settings the bursty scrape does not scale; on a tie, the longer stabilisation. A second replay
answers whether in-flight requests add anything beside queue length.

Usage::

    python -m agentwatch.bench.hpa_tuning --lab bench/results/hpa-tuning-recording
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentwatch.autoscaling.hpa import HPASpec, MetricSpec, Rules
from agentwatch.autoscaling.load import Load
from agentwatch.autoscaling.manifest import load_hpa
from agentwatch.autoscaling.sim import SimRow, simulate
from agentwatch.telemetry import catalogue as c

__all__ = ["main", "smoothed_total", "tune"]

WINDOWS_S = (15, 30, 60, 120)
SCALE_UP_WINDOWS_S = (0, 15, 30, 45, 60)


def with_bursty_scrape(by_pod: dict[str, list[list[float]]], at: float, spike: float
                       ) -> dict[str, list[list[float]]]:
    """``by_pod`` with the first sample at or after ``at`` replaced, per pod, by the highest sample
    that pod showed in the spike's first 45 s."""
    out = {}
    for pod, points in by_pod.items():
        peak = max((v for t, v in points if spike <= t < spike + 45), default=0.0)
        first = next((i for i, (t, _) in enumerate(points) if t >= at), None)
        out[pod] = [[t, peak if i == first else v] for i, (t, v) in enumerate(points)]
    return out


def smoothed_total(by_pod: dict[str, list[list[float]]], window_s: float, step_s: float) -> Load:
    """The service-wide total of each pod's average over the last ``window_s`` of its samples."""
    stamps = sorted({t for points in by_pod.values() for t, _ in points})
    totals = []
    for t in stamps:
        total = 0.0
        for points in by_pod.values():
            inside = [v for pt, v in points if t - window_s < pt <= t]
            if inside:
                total += sum(inside) / len(inside)
        totals.append(total)
    return Load(tuple(stamps), {c.QUEUE_LENGTH.name: tuple(totals)})


def _first(rows: Sequence[SimRow], after: float, predicate: Any) -> float | None:
    return next((r.time - after for r in rows if r.time >= after and predicate(r)), None)


def tune(lab: dict[str, Any], hpa: HPASpec) -> dict[str, Any]:
    """The grid of replays and the chosen setting (see the module docstring)."""
    cfg, marks = lab["config"], lab["marks"]
    step = lab["prometheus"]["step"]
    cold = sorted(lab["cold_starts"])
    ready_after = cold[len(cold) // 2] if cold else 0.0
    queue = next(m for m in hpa.metrics if m.name == c.QUEUE_LENGTH.name)
    base = dataclasses.replace(hpa, metrics=(queue,))
    assert base.behavior is not None
    needed = min(cfg["max_replicas"], math.ceil(cfg["base_rate"] * cfg["spike_factor"] * cfg["floor_ms"] / 1000))
    burst, spike = marks.get("burst_start", 0.0), marks["spike_start"]
    by_pod = with_bursty_scrape(lab["prometheus"]["series"]["queue_by_pod"], burst, spike)
    grid = []
    for window in WINDOWS_S:
        load = smoothed_total(by_pod, window, step)
        for up in SCALE_UP_WINDOWS_S:
            rules: Rules = dataclasses.replace(base.behavior.scale_up, stabilization_window_seconds=up)
            spec = dataclasses.replace(base, behavior=dataclasses.replace(base.behavior, scale_up=rules))
            rows = simulate(spec, load, cfg["min_replicas"], ready_after, cfg["sync_period_s"])
            before = [r for r in rows if burst <= r.time < spike]
            grid.append({
                "window_s": window, "scale_up_window_s": up,
                "burst_pods_added": max((r.desired for r in before), default=cfg["min_replicas"]) - cfg["min_replicas"],
                "burst_pod_seconds": sum(r.desired - cfg["min_replicas"] for r in before) * cfg["sync_period_s"],
                "spike_decision_s": _first(rows, spike, lambda r: r.desired > r.replicas),
                "spike_ready_s": _first(rows, spike, lambda r, n=needed: r.ready >= n),
            })
    scrape = step
    calm = [g for g in grid if g["burst_pods_added"] == 0 and g["spike_ready_s"] is not None
            and g["window_s"] >= 2 * scrape]
    # Ties go to the longer stabilisation: the same measured reaction with more margin against noise.
    choice = min(calm, key=lambda g: (g["spike_ready_s"], g["spike_decision_s"], g["window_s"],
                                      -g["scale_up_window_s"])) if calm else None
    return {"ready_after_s": ready_after, "needed_replicas": needed, "grid": grid, "choice": choice,
            "inflight": _inflight(lab, hpa, ready_after)}


def _inflight(lab: dict[str, Any], hpa: HPASpec, ready_after: float) -> dict[str, Any] | None:
    """Replay queue length alone and queue length + in-flight (target 16) on the recorded load."""
    series = lab["prometheus"]["series"]
    if not series.get("inflight_by_pod"):
        return None
    cfg = lab["config"]
    window = 60.0
    queue = smoothed_total(series["queue_by_pod"], window, lab["prometheus"]["step"])
    inflight = smoothed_total(series["inflight_by_pod"], window, lab["prometheus"]["step"])
    times = tuple(sorted(set(queue.times) & set(inflight.times)))
    load = Load(times, {c.QUEUE_LENGTH.name: tuple(queue.value(c.QUEUE_LENGTH.name, t) or 0.0 for t in times),
                        c.INFLIGHT_REQUESTS.name: tuple(inflight.value(c.QUEUE_LENGTH.name, t) or 0.0 for t in times)})
    queue_metric = next(m for m in hpa.metrics if m.name == c.QUEUE_LENGTH.name)
    alone = dataclasses.replace(hpa, metrics=(queue_metric,))
    both = dataclasses.replace(hpa, metrics=(queue_metric, MetricSpec("Pods", c.INFLIGHT_REQUESTS.name,
                                                                      "AverageValue", 16_000)))
    a = simulate(alone, load, cfg["min_replicas"], ready_after, cfg["sync_period_s"])
    b = simulate(both, load, cfg["min_replicas"], ready_after, cfg["sync_period_s"])
    differing = sum(1 for x, y in zip(a, b, strict=True) if x.desired != y.desired)
    return {"syncs": len(a), "syncs_differing": differing,
            "pod_seconds_queue_only": sum(r.desired for r in a) * cfg["sync_period_s"],
            "pod_seconds_with_inflight": sum(r.desired for r in b) * cfg["sync_period_s"]}


def _markdown(result: dict[str, Any], source: str) -> str:
    lines = ["# Signal smoothing and scale-up stabilisation, chosen by replay", "",
             f"Replayed through the HPA controller (`agentwatch.autoscaling.sim`) from `{source}` "
             f"(raw per-pod queue length at the scrape interval; pods ready {result['ready_after_s']:.1f} s "
             f"after creation, the lab's median cold start; {result['needed_replicas']} agents serve the spike). "
             "`python -m agentwatch.bench.hpa_tuning` regenerates this.", "",
             "| avg_over_time window | scale-up stabilisation | pods one bursty scrape added | pod-seconds it "
             "cost | spike: decision after | spike: ready capacity after |", "|---|---|---|---|---|---|"]
    def seconds(value: float | None) -> str:
        return "never" if value is None else f"{value:.0f} s"

    for g in result["grid"]:
        raw = " (raw)" if g["window_s"] == 15 else ""
        lines.append(f"| {g['window_s']} s{raw} | {g['scale_up_window_s']} s | {g['burst_pods_added']} | "
                     f"{g['burst_pod_seconds']:.0f} | {seconds(g['spike_decision_s'])} | "
                     f"{seconds(g['spike_ready_s'])} |")
    choice = result["choice"]
    lines += ["", "**Chosen**: " + (f"a {choice['window_s']} s window and {choice['scale_up_window_s']} s scale-up "
                                    "stabilisation: among windows of at least two scrapes, the fastest ready "
                                    "capacity for the spike of the settings the bursty scrape does not scale."
                                    if choice else "no setting both ignores the bursty scrape and reacts to the "
                                    "spike on this recording.")]
    inflight = result.get("inflight")
    if inflight:
        lines += ["", f"**In-flight requests** (target 16 per pod) beside queue length: the replica decision differs "
                      f"at {inflight['syncs_differing']} of {inflight['syncs']} syncs (pod-seconds "
                      f"{inflight['pod_seconds_queue_only']:.0f} without, {inflight['pod_seconds_with_inflight']:.0f} "
                      "with)."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentwatch.bench.hpa_tuning", description=__doc__.split("\n")[0])
    parser.add_argument("--lab", type=Path, default=Path("bench/results/hpa-tuning-recording"),
                        help="the lab's output folder (lab-agent.json, lab-hpa-agent.yaml)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    lab = json.loads((args.lab / "lab-agent.json").read_text())
    result = tune(lab, load_hpa(args.lab / "lab-hpa-agent.yaml"))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hpa_tuning.json").write_text(json.dumps({"name": "hpa_tuning", "source": str(args.lab), **result},
                                                         indent=1))
    text = _markdown(result, str(args.lab / "lab-agent.json"))
    (args.out / "hpa_tuning.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
