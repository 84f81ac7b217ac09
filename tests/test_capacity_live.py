"""``agentwatch capacity --quick``: a real ramp against one pinned agent, analysed, plotted, proposed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.live, pytest.mark.model, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[1]


def test_capacity_quick_ramps_one_pinned_agent_and_derives_targets_and_resources(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "agentwatch", "capacity", "--quick", "--out", str(tmp_path),
                             "--peak-rate", "100"], capture_output=True, text=True, timeout=220, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = " ".join(result.stdout.split())
    assert "AGENT_TORCH_THREADS=1" in output and ("pinned with taskset" in output or "not pinned" in output)
    doc = json.loads((tmp_path / "capacity.json").read_text())
    assert doc["settings"]["torch_threads"] == 1 and doc["quick"] is True
    assert doc["slo"]["threshold"] == 1.0 and doc["slo"]["objective"] == 99.0  # read from agentwatch.yaml
    steps = doc["steps"]
    assert len(steps) >= 2 and [s["users"] for s in steps] == sorted(s["users"] for s in steps)
    assert all(s["messages"] > 0 and s["cpu_cores"] is not None for s in steps)
    held = [s for s in steps if s["slo_ok"]]
    cap = doc["capacity"]
    assert held and cap["slo_ok"] and cap["throughput"] == max(s["throughput"] for s in held) > 1
    assert cap["queue_length"] is not None and cap["inference_time"] > 0
    targets = doc["autoscaling"]
    assert targets["rate"] == pytest.approx(0.7 * cap["throughput"])
    assert targets["queue_length_target"] >= 0.1 and targets["inference_time_target"] > 0
    res = doc["resources"]
    assert res["memory_peak_bytes"] > 100 * 2**20 and res["cpu_cores"] > 0 and res["replicas"] >= 1
    assert doc["load"]["turns_lost"] == 0 and doc["samples"] and doc["spans_exported"] > 0
    assert (tmp_path / "capacity.png").stat().st_size > 20_000
    fragment = yaml.safe_load((tmp_path / "capacity-spec.yaml").read_text())["autoscaling"]
    assert fragment["queue_length_target"] == targets["queue_length_target"]
    assert fragment["requests"] == {"cpu": res["cpu_request"], "memory": res["memory_request"]}
    assert fragment["derived_from"] == str(tmp_path / "capacity.json")
