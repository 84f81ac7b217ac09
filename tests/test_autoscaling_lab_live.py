"""The autoscaling lab's short run: real agents, a real Prometheus, the HPA controller's algorithm.

One agent takes a spike of seven times its base load; the controller, reading the adapter's own
queries from Prometheus, adds real agents (each a real cold start) and, after the shortened
scale-down window, goes back to one. Every acknowledged turn must be in Redis at the end.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from agentwatch.autoscaling.lab import LabConfig, run_scenario
from agentwatch.autoscaling.lab_report import compare_with_sim, scenario_figures
from agentwatch.local.processes import RedisServer
from agentwatch.spec import load_spec
from agentwatch.telemetry import catalogue as c

pytestmark = [pytest.mark.live, pytest.mark.model, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]


def test_a_spike_scales_real_agents_up_and_back_down_without_losing_a_turn(redis_server: RedisServer,
                                                                           tmp_path: Path) -> None:
    cfg = LabConfig.quick()
    result = run_scenario(load_spec(ROOT / "agentwatch.yaml"), cfg, "agent", tmp_path, redis=redis_server,
                          log=lambda _: None)
    spike = result.marks["spike_start"]
    assert result.syncs[0].replicas == cfg.min_replicas
    assert all(s.desired == cfg.min_replicas for s in result.syncs if s.time < spike - cfg.sync_period_s)
    assert max(s.desired for s in result.syncs if s.time >= spike) > cfg.min_replicas, "the spike scaled nothing"
    assert max(ready for _, ready, _ in result.ready_series) > cfg.min_replicas, "no added agent became ready"
    # Back to the minimum once the spike and the scale-down window are over. (A contended machine
    # slows the forward pass, which may lift the signal again for a sync near the end.)
    settled = result.marks["spike_end"] + cfg.scale_down_window_s + cfg.sync_period_s
    assert any(s.desired == cfg.min_replicas for s in result.syncs if s.time >= settled), \
        "not back to the minimum after the window"
    # The controller read the adapter's query for every sync once the signal window was filled.
    assert all(s.per_pod.get(c.QUEUE_LENGTH.name) is not None for s in result.syncs)
    assert result.record is not None and result.record.acknowledged > 0
    assert result.lost_turns == 0
    figures = scenario_figures(result)
    assert figures["decision_s"] is not None and figures["turns_lost"] == 0
    # hpa-sim replays the load the lab's Prometheus recorded (the adapter's queries, as --prometheus does).
    assert max(result.replay_load.columns[c.QUEUE_LENGTH.name]) > 0
    comparison = compare_with_sim(result, tmp_path / "lab-hpa-agent.yaml", tmp_path)
    assert comparison.syncs > 10 and math.isfinite(comparison.mean_abs_diff)
    assert (tmp_path / comparison.sim_csv).read_text().startswith("time_s,replicas,desired\n")
