"""The spec fragment a capacity run proposes: autoscaling targets, requests and limits, provenance.

Usage::

    print(spec_fragment(result, "bench/results/capacity.json"))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["spec_fragment", "steps_from_result"]

MIB = 1024 * 1024


def steps_from_result(result: Mapping[str, Any]) -> list[Any]:
    """The ``StepStats`` of a capacity document (to re-derive its targets)."""
    from agentwatch.capacity.analysis import StepStats

    return [StepStats(**s) for s in result["steps"]]


def spec_fragment(result: Mapping[str, Any], source: str) -> str:
    """YAML to merge into ``autoscaling:``, the figures in comments beside the values."""
    cap, knee, targets, res = result["capacity"], result["knee"], result["autoscaling"], result.get("resources")
    settings = result["settings"]
    lines = [f"# agentwatch capacity ({result['finished'][:10]}): one agent, {settings['pinning']}, "
             f"AGENT_TORCH_THREADS={settings['torch_threads']}, {settings.get('priority', '')}",
             f"#   SLO: {settings['slo']}"]
    if cap is None or targets is None:
        return "\n".join([*lines, "#   no step held the SLO: nothing to derive"]) + "\n"
    lines.append(f"#   capacity {cap['throughput']:.1f} msg/s at the SLO ({cap['users']} users, p99 "
                 f"{cap['p99'] * 1000:.0f} ms)" + (f"; knee at {knee['users']} users" if knee else ""))
    lines.append(f"#   rule: {targets['rule']}")
    lines.append("autoscaling:")
    lines.append(f"  queue_length_target: {targets['queue_length_target']:g}  # measured "
                 f"{targets['queue_length_measured']:.3f} at {targets['rate']:.1f} msg/s")
    lines.append(f"  inference_time_target: {targets['inference_time_target']:g}  # seconds per forward pass, "
                 f"measured {targets['inference_time_measured'] * 1000:.2f} ms")
    if res:
        lines.append(f"  # p{res['policy']['cpu_percentile']:g} CPU at ~{res['planned_rate']:.1f} msg/s = "
                     f"{res['cpu_cores']:.3f} cores; peak RSS {res['memory_peak_bytes'] / MIB:.0f} MiB "
                     f"+ {res['policy']['memory_headroom']:.0%}")
        lines.append(f"  requests: {{cpu: \"{res['cpu_request']}\", memory: {res['memory_request']}}}")
        lines.append(f"  limits: {{memory: {res['memory_limit']}}}")
    lines.append(f"  derived_from: {source}")
    return "\n".join(lines) + "\n"
