"""The lab's PNG timeline: one column per scenario; load, queue per pod, replicas, p99, budget burn.

Needs matplotlib (``agentwatch[dashboards]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from agentwatch.autoscaling.lab import SCENARIOS, ScenarioResult
from agentwatch.autoscaling.manifest import milli_quantity
from agentwatch.telemetry import catalogue as c

__all__ = ["latency_bins", "plot_timeline", "queue_target"]


def _p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def latency_bins(result: ScenarioResult, width: float = 10.0) -> list[tuple[float, float]]:
    """(bin start, p99 of acknowledged turns started in it)."""
    assert result.record is not None
    bins: dict[int, list[float]] = {}
    for turn in result.record.turns:
        if turn.acknowledged_turn is not None:
            bins.setdefault(int((turn.start - result.started) // width), []).append(turn.latency)
    return [(k * width, _p99(v)) for k, v in sorted(bins.items())]


def plot_timeline(path: Path, results: Sequence[ScenarioResult]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 5
    fig, axes = plt.subplots(rows, len(results), figsize=(6 * len(results), 13), sharex="col", sharey="row",
                             squeeze=False)
    for col, result in enumerate(results):
        cfg = result.config
        ax = axes[:, col]
        shape = cfg.shape()
        spike, spike_end = result.marks["spike_start"], result.marks["spike_end"]
        times = [s for s, _ in shape.steps] + [shape.duration]
        ax[0].step(times, [r for _, r in shape.steps] + [shape.steps[-1][1]], where="post", label="offered msg/s")
        served = result.prometheus.get("series", {}).get("served_rate", [])
        if served:
            ax[0].plot([t for t, _ in served], [v for _, v in served], label="served req/s (agents)")
        ax[0].set_title(f"{result.scenario}: {SCENARIOS[result.scenario]}", fontsize=10)
        for pod, points in sorted(result.prometheus.get("series", {}).get("queue_by_pod", {}).items()):
            ax[1].plot([t for t, _ in points], [v for _, v in points], linewidth=0.8, alpha=0.7, label=pod[-5:])
        target = queue_target(result.hpa)
        if target is not None:
            ax[1].axhline(target, color="black", linestyle="--", linewidth=1, label="HPA target per pod")
        smoothed = [(s.time, s.per_pod.get(c.QUEUE_LENGTH.name)) for s in result.syncs]
        if any(v is not None for _, v in smoothed):
            ax[1].plot([t for t, v in smoothed if v is not None], [v for _, v in smoothed if v is not None],
                       color="black", marker=".", linewidth=1.2, label="what the HPA saw (avg per pod)")
        ax[2].step([s.time for s in result.syncs], [s.desired for s in result.syncs], where="post",
                   label="replicas (HPA decision)")
        ax[2].step([t for t, _, _ in result.ready_series], [r for _, r, _ in result.ready_series], where="post",
                   linestyle=":", label="ready agents")
        ax[2].step([s.time for s in result.syncs], [s.min_replicas for s in result.syncs], where="post",
                   color="grey", linewidth=0.8, label="minReplicas")
        bins = latency_bins(result)
        ax[3].plot([t + 5 for t, _ in bins], [p for _, p in bins], marker=".", label="p99 per turn (client, 10 s)")
        p99 = result.prometheus.get("series", {}).get("server_p99", [])
        if p99:
            ax[3].plot([t for t, _ in p99], [v for _, v in p99], linewidth=0.8, label="p99 (agents)")
        ax[3].axhline(1.0, color="red", linestyle="--", linewidth=1, label="latency SLO 1 s")
        ax[3].set_yscale("log")
        for key, points in result.prometheus.get("series", {}).items():
            if key.startswith("burn:") and points:
                ax[4].plot([t for t, _ in points], [v for _, v in points], label=key[5:])
        ax[4].axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
        ax[4].set_xlabel("seconds since the load started")
        for a in ax:
            a.axvspan(spike, spike_end, color="orange", alpha=0.08)
            if "prewarm_start" in result.marks:
                a.axvline(result.marks["prewarm_start"], color="green", linestyle=":", linewidth=1)
            a.legend(loc="upper right", fontsize="x-small")
    for row, label in enumerate(("load", "queue length per pod", "pods", "p99 latency (s)", "budget burn rate")):
        axes[row, 0].set_ylabel(label)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def queue_target(hpa: dict) -> float | None:
    """The HPA manifest's per-pod queue-length target in plain units, if it scales on it."""
    for metric in hpa["spec"]["metrics"]:
        if metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == c.QUEUE_LENGTH.name:
            return milli_quantity(metric["pods"]["target"]["averageValue"]) / 1000  # e.g. "620m"
    return None
