"""The capacity plot: throughput against p99 with the SLO line, and what the agent showed meanwhile.

Left: each ramp step's message p99 (and p50) against its throughput; the SLO threshold as a
line, the capacity point and the knee marked, steps that broke the SLO as crosses. Right: mean
queue length and forward-pass time against throughput, with the autoscaling targets at the
planned per-pod rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_capacity"]


def plot_capacity(result: Mapping[str, Any], path: str | Path) -> Path:
    """Draw ``result`` (a capacity JSON document) to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps: Sequence[Mapping[str, Any]] = result["steps"]
    slo = result["slo"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2))
    held = [s for s in steps if s["slo_ok"] and s["p99"] is not None]
    broke = [s for s in steps if not s["slo_ok"] and s["p99"] is not None]
    ordered = [s for s in steps if s["p99"] is not None]
    left.plot([s["throughput"] for s in ordered], [s["p99"] * 1000 for s in ordered], color="#1f77b4", lw=1,
              alpha=0.6)
    left.scatter([s["throughput"] for s in held], [s["p99"] * 1000 for s in held], color="#1f77b4",
                 label="p99, SLO held", zorder=3)
    left.scatter([s["throughput"] for s in broke], [s["p99"] * 1000 for s in broke], color="#d62728", marker="x",
                 s=60, label="p99, SLO broken", zorder=3)
    left.plot([s["throughput"] for s in ordered], [(s["p50"] or 0) * 1000 for s in ordered], color="#7f7f7f",
              lw=1, ls=":", label="p50")
    for s in ordered:
        left.annotate(str(s["users"]), (s["throughput"], s["p99"] * 1000), textcoords="offset points",
                      xytext=(4, 4), fontsize=7, color="#555555")
    left.axhline(slo["threshold"] * 1000, color="#d62728", ls="--", lw=1,
                 label=f"SLO: {slo['objective']:g}% within {slo['threshold'] * 1000:.0f} ms")
    capacity, knee = result.get("capacity"), result.get("knee")
    if capacity:
        bound = " (at least: the SLO never broke)" if not broke else ""
        left.scatter([capacity["throughput"]], [capacity["p99"] * 1000], marker="*", s=260, color="#2ca02c",
                     zorder=4, label=f"capacity {capacity['throughput']:.1f} msg/s{bound}")
    if knee:
        left.scatter([knee["throughput"]], [knee["p99"] * 1000], marker="o", s=140, facecolors="none",
                     edgecolors="#ff7f0e", lw=2, zorder=4, label=f"knee ({knee['users']} users)")
    left.set_xlabel("throughput (messages answered 200 per second)")
    left.set_ylabel("latency (ms)")
    left.set_yscale("log")
    left.set_title("throughput vs p99 (labels: users)")
    left.legend(fontsize=8, loc="upper left")
    left.grid(alpha=0.3)

    server = [s for s in steps if s.get("queue_length") is not None]
    right.scatter([s["throughput"] for s in server], [s["queue_length"] for s in server], marker="o",
                  color="#9467bd", alpha=0.6, label="queue length (mean per step)")
    right.set_xlabel("throughput (msg/s)")
    right.set_ylabel("requests waiting for inference", color="#9467bd")
    twin = right.twinx()
    timed = [s for s in server if s.get("inference_time") is not None]
    twin.scatter([s["throughput"] for s in timed], [s["inference_time"] * 1000 for s in timed], marker="s",
                 color="#8c564b", alpha=0.6, label="forward pass (mean ms per step)")
    twin.set_ylabel("forward pass (ms)", color="#8c564b")
    targets = result.get("autoscaling")
    if targets:
        for key, axis, color, scale in (("queue_length_fit", right, "#9467bd", 1), ("inference_time_fit", twin,
                                                                                   "#8c564b", 1000)):
            fit = targets.get(key) or []
            axis.plot([x for x, _ in fit], [y * scale for _, y in fit], color=color, lw=1.5,
                      label="fit (non-decreasing)" if key == "queue_length_fit" else None)
        right.axvline(targets["rate"], color="#2ca02c", ls="--", lw=1)
        right.scatter([targets["rate"]], [targets["queue_length_target"]], marker="*", s=160, color="#9467bd",
                      zorder=4)
        twin.scatter([targets["rate"]], [targets["inference_time_target"] * 1000], marker="*", s=160,
                     color="#8c564b", zorder=4)
        right.set_title(f"HPA targets at {targets['utilisation']:.0%} of capacity ({targets['rate']:.1f} msg/s): "
                        f"queue {targets['queue_length_target']:g}, "
                        f"forward pass {targets['inference_time_target'] * 1000:.3g} ms", fontsize=9)
    lines = right.get_legend_handles_labels()
    extra = twin.get_legend_handles_labels()
    right.legend(lines[0] + extra[0], lines[1] + extra[1], fontsize=8, loc="upper left")
    right.grid(alpha=0.3)
    settings = result.get("settings", {})
    host = result.get("host", {})
    fig.suptitle(f"agentwatch capacity: one agent, {settings.get('pinning', '')}, "
                 f"torch threads {settings.get('torch_threads', '?')}, {settings.get('priority', '')}; "
                 f"load average {host.get('loadavg_1m_at_start', '?')} → {host.get('loadavg_1m_at_end', '?')}",
                 fontsize=9)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
