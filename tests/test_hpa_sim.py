"""``agentwatch hpa-sim``: the replay through the CLI, its files and its errors (no services)."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agentwatch import k8s
from agentwatch.autoscaling.load import load_from_text
from agentwatch.autoscaling.manifest import load_hpa
from agentwatch.autoscaling.sim import simulate
from agentwatch.cli import app
from agentwatch.telemetry import catalogue as c

ROOT = Path(__file__).resolve().parents[1]
GENERATED_HPA = ROOT / k8s.OVERLAYS["hpa"] / "horizontalpodautoscaler.yaml"
QUEUE = c.QUEUE_LENGTH.name


def hpa_yaml(metrics: list[dict], behavior: dict | None = None, low: int = 1, high: int = 20) -> str:
    spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": low, "maxReplicas": high, "metrics": metrics}
    if behavior is not None:
        spec["behavior"] = behavior
    other = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"}, "spec": spec}
    return yaml.safe_dump_all([other, hpa], sort_keys=False)


def pods_metric(name: str, target: str) -> dict:
    target_block = {"type": "AverageValue", "averageValue": target}
    return {"type": "Pods", "pods": {"metric": {"name": name}, "target": target_block}}


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, tmp_path: Path, hpa: str, load: str, *args: str):
    (tmp_path / "hpa.yaml").write_text(hpa)
    (tmp_path / "load.csv").write_text(load)
    return runner.invoke(app, ["hpa-sim", "--hpa", str(tmp_path / "hpa.yaml"), "--load", str(tmp_path / "load.csv"),
                               *args])


def rows(text: str) -> list[tuple[float, int, int]]:
    reader = csv.reader(text.strip().splitlines())
    assert next(reader) == ["time_s", "replicas", "desired"]
    return [(float(t), int(r), int(d)) for t, r, d in reader]


def test_a_synthetic_ramp_scales_up_as_the_policies_allow(runner: CliRunner, tmp_path: Path) -> None:
    """A queue that ramps to 400 (50 pods' worth at 8 each, capped at 20): the Pods policy allows
    +2 pods per 30 s, so replicas climb by at most 2 per 30 s, never faster, up to the maximum."""
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 2,
                                                                           "periodSeconds": 30}]}}
    load = "time_s,queue\n" + "".join(f"{t},{min(400, t * 2)}\n" for t in range(0, 301, 15))
    result = invoke(runner, tmp_path, hpa_yaml([pods_metric("queue", "8")], behavior, low=2), load,
                    "--out", str(tmp_path / "out.csv"), "--ready-after", "0")
    assert result.exit_code == 0, result.output
    out = rows((tmp_path / "out.csv").read_text())
    assert [t for t, _, _ in out] == list(range(0, 301, 15))
    ups = [(t, d - r) for t, r, d in out if d > r]
    assert ups and all(change <= 2 for _, change in ups)
    assert all(b - a >= 30 for (a, _), (b, _) in itertools.pairwise(ups)), ups
    assert out[-1][2] == 20


def test_scale_down_waits_out_the_window(runner: CliRunner, tmp_path: Path) -> None:
    load = "time_s,queue\n0,80\n60,8\n400,8\n"  # 10 pods' worth, then one pod's worth from t=60
    result = invoke(runner, tmp_path, hpa_yaml([pods_metric("queue", "8")], {}, low=1, high=10), load,
                    "--replicas", "10", "--ready-after", "0", "--sync-period", "15")
    assert result.exit_code == 0, result.output
    out = rows(result.stdout)
    # The default scale-down window is 300 s: recommendations of 10 until t=45 hold the scale to t=345.
    assert all(d == 10 for t, _, d in out if t < 345)
    assert [d for t, _, d in out if t == 345] == [1]


def test_documented_example_doubles_and_halves(tmp_path: Path) -> None:
    """HPA docs: a per-pod value of 200m against a 100m target doubles the replicas; 50m halves
    them (an average metric: every ready pod reports the column's value)."""
    (tmp_path / "h.yaml").write_text(hpa_yaml([pods_metric("latency_seconds", "100m")], {"scaleDown": {
        "stabilizationWindowSeconds": 0}}))
    spec = load_hpa(tmp_path / "h.yaml")
    double = simulate(spec, load_from_text("time_s,latency_seconds\n0,0.2\n", "x", ["latency_seconds"]), 2, 0)
    assert (double[0].replicas, double[0].desired) == (2, 4)
    halve = simulate(spec, load_from_text("time_s,latency_seconds\n0,0.05\n", "x", ["latency_seconds"]), 4, 0)
    assert (halve[0].replicas, halve[0].desired) == (4, 2)
    steady = simulate(spec, load_from_text("time_s,latency_seconds\n0,0.105\n", "x", ["latency_seconds"]), 4, 0)
    assert steady[0].desired == 4  # within the 0.1 tolerance


def test_the_generated_hpa_replays(runner: CliRunner, tmp_path: Path) -> None:
    names = [m.name for m in load_hpa(GENERATED_HPA).metrics]
    load = "time_s," + ",".join(names) + "\n0," + ",".join("0" for _ in names) + "\n60," + \
        ",".join("200" if n == QUEUE else "0.01" for n in names) + "\n180," + \
        ",".join("200" if n == QUEUE else "0.01" for n in names) + "\n"
    result = runner.invoke(app, ["hpa-sim", "--hpa", str(GENERATED_HPA), "--load", _write(tmp_path, load),
                                 "--plot", str(tmp_path / "sim.png")])
    assert result.exit_code == 0, result.output
    out = rows(result.stdout)
    assert out[0][1] == load_hpa(GENERATED_HPA).min_replicas
    assert max(d for _, _, d in out) > out[0][1]
    assert (tmp_path / "sim.png").stat().st_size > 10_000


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "load.csv"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(("hpa", "load", "words"), [
    (hpa_yaml([pods_metric(QUEUE, "8")]), "time_s,other\n0,1\n", ["load.csv:1:", QUEUE, "no column"]),
    (hpa_yaml([pods_metric("q", "8")]), "time_s,q\n0,1\n15,many\n", ["load.csv:3: q:", "'many' is not a number"]),
    (hpa_yaml([pods_metric("q", "8")]), "time_s,q\n30,1\n15,1\n", ["load.csv:3: time_s:", "time order"]),
    (yaml.safe_dump({"apiVersion": "v1", "kind": "Service"}), "time_s,q\n0,1\n",
     ["hpa.yaml:1:", "no autoscaling/v2 HorizontalPodAutoscaler", "v1/Service"]),
    (hpa_yaml([pods_metric("q", "eight")]), "time_s,q\n0,1\n", ["hpa.yaml:", "spec.metrics[0]", "'eight'"]),
    (hpa_yaml([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                            "averageUtilization": 70}}}]),
     "time_s,q\n0,1\n", ["spec.metrics[0] is a Resource metric (cpu)", "Pods metrics"]),
    (hpa_yaml([pods_metric("q", "8")], low=5, high=2), "time_s,q\n0,1\n", ["spec.maxReplicas", "below minReplicas"]),
], ids=["a missing metric column is named", "a value that is no number names its line", "rows out of order",
        "a file without an HPA lists what it holds", "a target that is no quantity names the field",
        "a CPU metric is refused by name", "max below min names the field"])
def test_bad_input_is_one_message_and_exit_1(runner: CliRunner, tmp_path: Path, hpa: str, load: str,
                                             words: list[str]) -> None:
    result = invoke(runner, tmp_path, hpa, load)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.mark.parametrize("args", [[], ["--load", "x.csv", "--prometheus", "http://127.0.0.1:1"],
                                  ["--load", "x.csv", "--sync-period", "0"], ["--load", "x.csv", "--replicas", "-1"]],
                         ids=["neither load nor prometheus", "both", "a zero sync period", "negative replicas"])
def test_bad_usage_exits_2(runner: CliRunner, tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "hpa.yaml").write_text(hpa_yaml([pods_metric("q", "8")]))
    result = runner.invoke(app, ["hpa-sim", "--hpa", str(tmp_path / "hpa.yaml"), *args])
    assert result.exit_code == 2, result.output


def test_an_unreachable_prometheus_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    from agentwatch.local.processes import free_port

    result = runner.invoke(app, ["hpa-sim", "--hpa", str(GENERATED_HPA), "--prometheus",
                                 f"http://127.0.0.1:{free_port()}", "--spec", str(ROOT / "agentwatch.yaml")])
    assert result.exit_code == 2, result.output
    assert "cannot reach Prometheus" in result.stderr
