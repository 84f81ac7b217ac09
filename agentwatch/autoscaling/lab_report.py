"""The lab's report: per-scenario figures, a Markdown summary and a PNG timeline, and how far
``hpa-sim`` replaying the recorded load lands from what the lab did.

Figures per scenario (times in seconds from the spike's start):

- *scale-up decision*: the first sync at or after the spike whose decision exceeds the replicas;
- *ready capacity*: the first time the ready agents can serve the spike's rate
  (``ceil(spike rate / capacity per agent)``, at most the maximum); 0 when they already could;
- *peak p99*: the highest client-side p99 of acknowledged turns (retries included) in 10 s bins
  from the spike's start to a minute after its end;
- *budget burned*: each SLO's bad events over the run, its burn rate (bad ratio / allowed ratio)
  and the share of a 30-day budget the run consumed at that burn rate;
- *turns lost*: acknowledged turns missing when the conversations are read back (must be 0).

Usage::

    figures = scenario_figures(result)
    write_report(out_dir, results, comparison)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentwatch.autoscaling.lab import SCENARIOS, ScenarioResult
from agentwatch.autoscaling.lab_plot import latency_bins

__all__ = ["SimComparison", "compare_with_sim", "load_results", "scenario_figures", "write_report"]

_MONTH_S = 30 * 86400


def scenario_figures(result: ScenarioResult) -> dict[str, Any]:
    """The figures the report compares (see the module docstring)."""
    cfg = result.config
    spike, spike_end = result.marks["spike_start"], result.marks["spike_end"]
    needed = min(cfg.max_replicas, math.ceil(cfg.base_rate * cfg.spike_factor / cfg.capacity_per_agent))
    decision = next((s.time - spike for s in result.syncs if s.time >= spike and s.desired > s.replicas), None)
    at_spike = [r for t, r, _ in result.ready_series if t <= spike]
    if at_spike and at_spike[-1] >= needed:
        ready = 0.0
    else:
        ready = next((t - spike for t, r, _ in result.ready_series if t >= spike and r >= needed), None)
    bins = [p for t, p in latency_bins(result) if spike <= t <= spike_end + 60]
    record = result.record
    assert record is not None
    run_s = max(s.time for s in result.syncs) if result.syncs else 0.0
    budgets = {}
    for name, totals in result.prometheus.get("totals", {}).items():
        allowed = 1 - totals["objective"] / 100
        ratio = totals["bad"] / totals["total"] if totals["total"] else 0.0
        burn = ratio / allowed
        budgets[name] = {"bad": round(totals["bad"]), "total": round(totals["total"]), "burn_rate": burn,
                         "month_budget_pct": 100 * burn * run_s / _MONTH_S}
    times = [t for t, _, _ in result.ready_series]
    pod_seconds = sum((b - a) * live for (a, _, live), b in zip(result.ready_series, times[1:], strict=False))
    return {
        "scenario": result.scenario,
        "signals": SCENARIOS[result.scenario],
        "needed_replicas": needed,
        "decision_s": decision,
        "ready_capacity_s": ready,
        "prewarm_start_s": result.marks.get("prewarm_start", spike) - spike if "prewarm_start" in result.marks
        else None,
        "peak_p99_s": max(bins) if bins else None,
        "max_replicas": result.max_replicas,
        "budgets": budgets,
        "turns_lost": record.lost_turns,
        "turns_acknowledged": record.acknowledged,
        "turns_failed": record.failed_turns,
        "attempts": dict(sorted(record.attempt_codes.items())),
        "cold_start_median_s": sorted(result.cold_starts)[len(result.cold_starts) // 2] if result.cold_starts
        else None,
        "pod_seconds": pod_seconds,
        "cpu_request_m": result.cpu_request_m,
    }


@dataclass(frozen=True)
class SimComparison:
    """The lab's replica curve against ``hpa-sim`` replaying the load the lab recorded."""

    scenario: str
    ready_after_s: float
    syncs: int
    mean_abs_diff: float
    max_abs_diff: int
    same_share: float
    lab_first_scale_up_s: float | None
    sim_first_scale_up_s: float | None
    lab_pod_seconds: float
    sim_pod_seconds: float
    load_csv: str
    sim_csv: str


def compare_with_sim(result: ScenarioResult, hpa_yaml: Path, out_dir: Path) -> SimComparison:
    """Replay ``prometheus_load`` (built with the adapter's queries from the lab's Prometheus)
    through hpa-sim and compare replica curves sync by sync, on the lab's clock."""
    from agentwatch.autoscaling.load import write_load
    from agentwatch.autoscaling.manifest import load_hpa
    from agentwatch.autoscaling.sim import simulate

    cfg = result.config
    ready_after = sorted(result.cold_starts)[len(result.cold_starts) // 2] if result.cold_starts else 0.0
    load, offset = result.replay_load, 0.0  # the load's t=0 is the lab's start
    rows = simulate(load_hpa(hpa_yaml), load, cfg.min_replicas, ready_after, cfg.sync_period_s)
    load_csv, sim_csv = out_dir / f"lab-{result.scenario}-load.csv", out_dir / f"lab-{result.scenario}-hpa-sim.csv"
    write_load(load_csv, load)
    sim_csv.write_text("time_s,replicas,desired\n" + "".join(f"{r.time:g},{r.replicas},{r.desired}\n" for r in rows))

    def lab_at(t: float) -> int:
        """The lab's decision at its sync nearest ``t`` (the lab syncs a little after each period)."""
        nearest = min(result.syncs, key=lambda s: abs(s.time - t), default=None)
        return nearest.desired if nearest is not None else cfg.min_replicas

    pairs = [(r.desired, lab_at(r.time + offset)) for r in rows if r.time + offset >= 0]
    diffs = [abs(a - b) for a, b in pairs]
    spike = result.marks["spike_start"]
    sim_up = next((r.time + offset - spike for r in rows if r.desired > r.replicas and r.time + offset >= spike), None)
    lab_up = next((s.time - spike for s in result.syncs if s.time >= spike and s.desired > s.replicas), None)
    period = cfg.sync_period_s
    return SimComparison(result.scenario, ready_after, len(pairs), sum(diffs) / len(diffs) if diffs else 0.0,
                         max(diffs, default=0), sum(1 for d in diffs if d == 0) / len(diffs) if diffs else 1.0,
                         lab_up, sim_up, sum(b for _, b in pairs) * period, sum(a for a, _ in pairs) * period,
                         load_csv.name, sim_csv.name)


def _fmt(value: float | None, unit: str = "s", digits: int = 0) -> str:
    if value is None:
        return "never"
    return f"{value:.{digits}f} {unit}".strip()


def write_report(out_dir: Path, results: Sequence[ScenarioResult], comparison: SimComparison | None,
                 command: str, png_name: str = "autoscaling-lab.png") -> Path:
    """Write the PNG timeline and the Markdown report; returns the Markdown path."""
    from agentwatch.autoscaling.lab_plot import plot_timeline

    plot_timeline(out_dir / png_name, results)
    figures = [scenario_figures(r) for r in results]
    cfg = results[0].config
    lines = [
        "# Autoscaling lab: the spike, three ways",
        "",
        f"Produced by `{command}` on this machine (2 shared cores). Real agent processes share one "
        "redis-server behind a router that sends traffic only to agents whose `/readyz` passes; a real "
        "Prometheus scrapes them; every sync period the HPA controller code of `agentwatch hpa-sim` decides "
        "the replicas from the adapter's own queries (or the agents' CPU), and new agents cold-start for real.",
        "",
        f"- **Capacity per agent, pinned the same in every run**: `AGENT_INFERENCE_FLOOR_MS={cfg.floor_ms:g}` "
        f"(a forward pass of n requests lasts at least n x {cfg.floor_ms:g} ms): at most "
        f"{cfg.capacity_per_agent:g} messages/s per agent, whatever the cores are doing.",
        f"- **Load** (bounded open-loop httpx driver, multi-turn conversations, retries on 429/502/503/504): "
        f"{cfg.base_rate:g} msg/s, a spike to {cfg.base_rate * cfg.spike_factor:g} msg/s "
        f"({cfg.spike_factor:g}x) from t={cfg.before_s:g}s for {cfg.spike_s:g}s, then {cfg.base_rate:g} msg/s"
        + (f"; a {cfg.burst_len_s:g}s burst of {cfg.burst_factor:g}x at t={cfg.burst_at_s:g}s (one bursty "
           "scrape)" if cfg.burst_at_s is not None else "") + ".",
        f"- **HPA**: replicas {cfg.min_replicas}..{cfg.max_replicas}, sync every {cfg.sync_period_s:g}s, "
        f"scrape every {cfg.scrape_interval}, readiness probed every {cfg.probe_period_s:g}s; the spec's "
        f"targets (queue length {results[0].hpa['spec']['metrics'][0]['pods']['target']['averageValue']} per pod), "
        f"inference time {cfg.inference_time_target:g}s (the spec's rule, 0.8 x a full batch, for the capped "
        "agent), the spec's behavior. CPU only: "
        f"`averageUtilization: {cfg.cpu_target_utilization}` of a request sized to one agent's CPU at its capacity.",
        f"- **Pre-warm**: minReplicas raised to {cfg.prewarm_replicas} {cfg.prewarm_lead_s:g}s before the spike "
        "(the generated CronJob / KEDA cron trigger do this ahead of a known peak) and restored after it.",
        "",
        f"![timeline]({png_name})",
        "",
        "| | " + " | ".join(f"{f['scenario']}: {f['signals']}" for f in figures) + " |",
        "|---|" + "---|" * len(figures),
    ]

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("scale-up decision after the spike starts", [_fmt(f["decision_s"]) if f["prewarm_start_s"] is None else
        f"{_fmt(f['decision_s'])} (floor raised at {_fmt(f['prewarm_start_s'])})" for f in figures])
    row(f"ready capacity for the spike ({figures[0]['needed_replicas']} agents)",
        [_fmt(f["ready_capacity_s"]) for f in figures])
    row("peak p99 (client, per turn)", [_fmt(f["peak_p99_s"], "s", 2) for f in figures])
    for name in figures[0]["budgets"]:
        cells = []
        for f in figures:
            b = f["budgets"][name]
            cells.append(f"{b['bad']} bad of {b['total']}; burn {b['burn_rate']:.1f}x; "
                         f"{b['month_budget_pct']:.2f} % of 30 d")
        row(f"budget burned: {name}", cells)
    row("turns lost (must be 0)", [str(f["turns_lost"]) for f in figures])
    row("turns acknowledged / failed after retries", [f"{f['turns_acknowledged']} / {f['turns_failed']}"
                                                      for f in figures])
    row("attempts by status", [", ".join(f"{k}: {v}" for k, v in f["attempts"].items()) for f in figures])
    row("most replicas", [str(f["max_replicas"]) for f in figures])
    row("pod-seconds", [f"{f['pod_seconds']:.0f}" for f in figures])
    row("cold start of added agents (median)", [_fmt(f["cold_start_median_s"], "s", 1) for f in figures])
    lines += [
        "",
        "Reading the table: *ready capacity* counts agents, not goodput. An agent that has been saturated "
        "keeps requests queued up to their 2 s deadline, some are computed and still answered 504, and "
        "clients retry; such a fleet can stay in overload after enough agents are ready (compare *served* "
        "with *offered* in the timeline's first row). How long that lasts depends on how deep the overload "
        "got before capacity arrived, so the scale-up decision and the cold start (which varies with the "
        "load other work puts on this machine) decide most of the budget burned; a pre-warm avoids the "
        "overload altogether.",
    ]
    if comparison is not None:
        c = comparison
        lines += [
            "",
            "## hpa-sim on the load the lab recorded",
            "",
            f"The `{c.scenario}` run's load was rebuilt from the lab's Prometheus with the adapter's own queries "
            f"(`{c.load_csv}`, as `agentwatch hpa-sim --prometheus` does) and replayed with "
            f"`agentwatch hpa-sim --hpa lab-hpa-{c.scenario}.yaml --load {c.load_csv} --ready-after "
            f"{c.ready_after_s:.1f} --sync-period {cfg.sync_period_s:g}` (`{c.sim_csv}`; ready-after = the lab's "
            "median cold start).",
            "",
            "| | lab | hpa-sim |",
            "|---|---|---|",
            f"| first scale-up after the spike starts | {_fmt(c.lab_first_scale_up_s)} | "
            f"{_fmt(c.sim_first_scale_up_s)} |",
            f"| pod-seconds over the replay | {c.lab_pod_seconds:.0f} | {c.sim_pod_seconds:.0f} |",
            "",
            f"Distance of the replica curves over {c.syncs} syncs: mean |sim - lab| = {c.mean_abs_diff:.2f} "
            f"replicas, max {c.max_abs_diff}, identical at {100 * c.same_share:.0f} % of the syncs. The replay "
            "feeds back the queue the lab's own replica curve produced (a queue is not independent of the "
            "capacity serving it), reads Prometheus at its steps rather than at the lab's sync instants, and "
            "models a starting pod as reporting 0 for its whole cold start.",
        ]
    path = out_dir / "autoscaling-lab.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def load_results(out_dir: Path, scenarios: Sequence[str]) -> list[ScenarioResult]:
    """Rebuild the scenarios' results from the JSON a lab run wrote (to re-render the report)."""
    import json
    from collections import Counter

    from agentwatch.autoscaling.driver import LoadRecord, TurnRecord
    from agentwatch.autoscaling.lab import LabConfig, SyncRecord
    from agentwatch.autoscaling.load import read_load
    from agentwatch.spec.model import ScalingPolicy

    results = []
    for name in scenarios:
        data = json.loads((out_dir / f"lab-{name}.json").read_text())
        config = dict(data["config"])
        if config.get("scale_down_policy") is not None:
            config["scale_down_policy"] = ScalingPolicy(**config["scale_down_policy"])
        started = data["started"]
        load = data["load"]
        record = LoadRecord(started, [TurnRecord("", 0, started + t, started + t + latency, attempts, status,
                                                 1 if acked else None)
                                      for t, latency, status, attempts, acked in load["turns"]],
                            Counter({int(k): v for k, v in load["attempt_codes"].items()}), load["transport_errors"],
                            load["conversations"], load["lost_turns"], load["checked_conversations"])
        result = ScenarioResult(name, LabConfig(**config), data["hpa"], started,
                                [SyncRecord(**s) for s in data["syncs"]], [tuple(r) for r in data["ready"]], record,
                                data["cold_starts"], data["prometheus"], data["cpu_request_m"], data["marks"])
        csv_path = out_dir / f"lab-{name}-load.csv"
        if csv_path.exists():
            metrics = [m["pods"]["metric"]["name"] for m in data["hpa"]["spec"]["metrics"] if m["type"] == "Pods"]
            result.replay_load = read_load(csv_path, metrics)
        results.append(result)
    return results
