"""The committed choice of smoothing window and scale-up stabilisation is what the replay of the
committed lab recording chooses, and it is what the spec generates."""

from __future__ import annotations

import json
from pathlib import Path

from agentwatch.autoscaling.manifest import load_hpa
from agentwatch.bench.hpa_tuning import tune, with_bursty_scrape
from agentwatch.durations import parse_duration
from agentwatch.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "bench" / "results" / "hpa-tuning-recording"
TUNING = ROOT / "bench" / "results" / "hpa_tuning.json"


def test_the_committed_tuning_is_a_fresh_replay_of_the_committed_recording() -> None:
    committed = json.loads(TUNING.read_text())
    fresh = tune(json.loads((LAB / "lab-agent.json").read_text()), load_hpa(LAB / "lab-hpa-agent.yaml"))
    assert fresh["grid"] == committed["grid"]
    assert fresh["choice"] == committed["choice"]


def test_the_spec_uses_the_chosen_window_and_stabilisation() -> None:
    choice = json.loads(TUNING.read_text())["choice"]
    auto = load_spec(ROOT / "agentwatch.yaml").autoscaling
    assert auto is not None
    assert parse_duration(auto.signal_window) == choice["window_s"]
    assert auto.scale_up.stabilization_window_seconds == choice["scale_up_window_s"]


def test_the_raw_gauge_lets_one_bursty_scrape_add_pods() -> None:
    """The defect the smoothing fixes, measured: on the raw gauge the bursty scrape scales."""
    grid = json.loads(TUNING.read_text())["grid"]
    raw = next(g for g in grid if g["window_s"] == 15 and g["scale_up_window_s"] == 0)
    assert raw["burst_pods_added"] > 0


def test_the_bursty_scrape_replaces_one_sample_per_pod() -> None:
    by_pod = {"a": [[0, 0.0], [15, 0.0], [30, 1.0], [100, 40.0], [115, 55.0]]}
    assert with_bursty_scrape(by_pod, 10, 100)["a"] == [[0, 0.0], [15, 55.0], [30, 1.0], [100, 40.0], [115, 55.0]]
