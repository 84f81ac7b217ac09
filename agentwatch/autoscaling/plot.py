"""Draw an ``hpa-sim`` replay: the load, each metric per pod against its target, and the replicas.

Needs matplotlib (``agentwatch[dashboards]``); imported only when a plot is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agentwatch.autoscaling.hpa import HPASpec
from agentwatch.autoscaling.load import Load
from agentwatch.autoscaling.sim import SimRow

__all__ = ["plot_replay"]


def plot_replay(path: str | Path, spec: HPASpec, load: Load, rows: Sequence[SimRow]) -> None:
    """Three stacked panels sharing the time axis; written as PNG to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    for name, values in load.columns.items():
        if any(m.name == name for m in spec.metrics):
            axes[0].step(load.times, values, where="post", label=name)
    axes[0].set_ylabel("load (column value)")
    axes[0].legend(loc="upper right", fontsize="small")
    times = [r.time for r in rows]
    for metric in spec.metrics:
        per_pod = [r.per_pod.get(metric.name) for r in rows]
        line = axes[1].plot(times, [v if v is not None else float("nan") for v in per_pod], marker=".",
                            label=f"{metric.name} per pod")[0]
        axes[1].axhline(metric.target / 1000, color=line.get_color(), linestyle="--", linewidth=1,
                        label=f"target {metric.target / 1000:g}")
    axes[1].set_ylabel("per pod (as the controller saw it)")
    axes[1].legend(loc="upper right", fontsize="small")
    axes[2].step(times, [r.desired for r in rows], where="post", label="replicas (after each sync)")
    axes[2].step(times, [r.ready for r in rows], where="post", label="ready", linestyle=":")
    axes[2].axhline(spec.min_replicas, color="grey", linewidth=0.8, linestyle="--")
    axes[2].axhline(spec.max_replicas, color="grey", linewidth=0.8, linestyle="--")
    axes[2].set_ylabel("pods")
    axes[2].set_xlabel("time (s)")
    axes[2].legend(loc="upper right", fontsize="small")
    fig.suptitle(f"hpa-sim: {spec.name} (min {spec.min_replicas}, max {spec.max_replicas})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
