"""The spec's ``autoscaling:`` section: hostile values fail with file, line and field; the CLI writes k8s/."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agentwatch import k8s
from agentwatch.cli import app
from agentwatch.families import render_all
from agentwatch.k8s.adapter import adapter_rules, render_metrics_query, signals
from agentwatch.k8s.autoscalers import quantity, quantity_text, scaled_object
from agentwatch.spec import load_spec
from agentwatch.spec.model import Autoscaling

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
version: agentwatch/v1
service:
  name: support-agent
autoscaling:
  namespace: support-agent
  min_replicas: 2
  max_replicas: 10
  queue_length_target: 8
  scale_down: {stabilization_window_seconds: 300, percent: 50}
  requests: {cpu: "1", memory: 1Gi}
  keda:
    business_hours: {timezone: Europe/Berlin, start: "0 8 * * 1-5", end: "0 18 * * 1-5", desired_replicas: 3}
  prewarm: {timezone: UTC, peak: "30 8 * * 1-5", lead: 10m, duration: 2h, min_replicas: 4}
  smoothing_window: 1m
"""

# (id, replaced, replacement, line, field, words the message must contain)
CASES = [
    ("negative min replicas are rejected", "min_replicas: 2", "min_replicas: -1",
     6, "autoscaling.min_replicas", ["greater than or equal to 1"]),
    ("max below min is rejected", "max_replicas: 10", "max_replicas: 1",
     7, "autoscaling.max_replicas", ["below min_replicas 2", "allowed: max_replicas >= min_replicas"]),
    ("a queue-length target of 0 is rejected", "queue_length_target: 8", "queue_length_target: 0",
     8, "autoscaling.queue_length_target", ["greater than 0"]),
    ("a scaling policy without percent or pods is rejected", "percent: 50}", "period_seconds: 60}",
     9, "autoscaling.scale_down", ["percent, pods"]),
    ("a stabilisation window over an hour is rejected", "stabilization_window_seconds: 300",
     "stabilization_window_seconds: 7200", 9, "autoscaling.scale_down.stabilization_window_seconds", ["3600"]),
    ("a resource quantity that is no quantity is rejected", 'cpu: "1"', "cpu: one core",
     10, "autoscaling.requests", ["one core", "quantities"]),
    ("an unknown time zone is rejected", "Europe/Berlin", "Mars/Olympus",
     12, "autoscaling.keda.business_hours.timezone", ["Mars/Olympus", "IANA"]),
    ("a cron expression with four fields is rejected", '"0 18 * * 1-5"', '"0 18 * *"',
     12, "autoscaling.keda.business_hours.end", ["0 18 * *"]),
    ("an unknown autoscaling key lists the allowed ones", "  min_replicas: 2\n", "  min_replica: 2\n",
     6, "autoscaling.min_replica", ["unknown field", "min_replicas", "queue_length_target"]),
    ("a namespace that is no DNS label is rejected", "namespace: support-agent", "namespace: Support_Agent",
     5, "autoscaling.namespace", ["Support_Agent"]),
    ("a pre-warm peak whose hour is a range is rejected", '"30 8 * * 1-5"', '"30 8-9 * * 1-5"',
     13, "autoscaling.prewarm.peak", ["hour", "8-9", "one number"]),
    ("a pre-warm lead that is no whole minute is rejected", "lead: 10m", "lead: 90s",
     13, "autoscaling.prewarm.lead", ["90s", "whole number of minutes"]),
    ("a pre-warm window across midnight is rejected", "duration: 2h", "duration: 16h",
     13, "autoscaling.prewarm", ["crosses midnight"]),
    ("a pre-warm floor not above min_replicas is rejected", "min_replicas: 4}", "min_replicas: 2}",
     13, "autoscaling.prewarm", ["prewarm.min_replicas 2", "allowed: 3..10"]),
    ("a pre-warm time zone that does not exist is rejected", "timezone: UTC", "timezone: Mars/Olympus",
     13, "autoscaling.prewarm.timezone", ["Mars/Olympus", "IANA"]),
    ("a smoothing window shorter than two scrapes is rejected", "smoothing_window: 1m", "smoothing_window: 20s",
     14, "autoscaling.smoothing_window", ["20s", "2 scrapes", "15s"]),
]


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize(("old", "new", "line", "field", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_values_fail_the_cli_with_file_line_and_field(
        runner: CliRunner, tmp_path: Path, old: str, new: str, line: int, field: str, words: list[str]) -> None:
    assert old in GOOD
    spec = tmp_path / "agentwatch.yaml"
    spec.write_text(GOOD.replace(old, new, 1))
    result = runner.invoke(app, ["generate", "k8s", "--spec", str(spec), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    message = next((m for m in result.stderr.splitlines() if m.startswith(f"{spec}:{line}: {field}: ")), None)
    assert message is not None, result.stderr
    for word in words:
        assert word in message, message
    assert not (tmp_path / "out").exists()


def test_the_good_spec_generates_every_file_under_out(runner: CliRunner, tmp_path: Path) -> None:
    spec = tmp_path / "agentwatch.yaml"
    spec.write_text(GOOD)
    result = runner.invoke(app, ["generate", "k8s", "--spec", str(spec), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    expected = render_all(load_spec(spec), ["k8s"])
    for relative, text in expected.items():
        assert (tmp_path / relative).read_text() == text
    crons = {t["name"]: t for t in scaled_object(load_spec(spec))["spec"]["triggers"] if t["type"] == "cron"}
    assert crons["business-hours"]["metadata"] == {"timezone": "Europe/Berlin", "start": "0 8 * * 1-5",
                                                   "end": "0 18 * * 1-5", "desiredReplicas": "3"}
    assert crons["prewarm"]["metadata"] == {"timezone": "UTC", "start": "20 8 * * 1-5", "end": "30 10 * * 1-5",
                                            "desiredReplicas": "4"}
    assert all(t["metricType"] == "AverageValue" for t in crons.values())


def test_without_an_autoscaling_section_the_defaults_apply(tmp_path: Path) -> None:
    spec = tmp_path / "agentwatch.yaml"
    spec.write_text(GOOD.split("autoscaling:")[0])
    files = k8s.render(load_spec(spec))
    hpa = yaml.safe_load(files[f"{k8s.OVERLAYS['hpa']}/horizontalpodautoscaler.yaml"])
    defaults = Autoscaling()
    assert hpa["metadata"]["namespace"] == defaults.namespace
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (defaults.min_replicas, defaults.max_replicas)
    # Queue length and inference time by default; in-flight requests only when inflight_target is set.
    assert [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"]] == [s.name for s in signals(load_spec(spec))]
    assert len(hpa["spec"]["metrics"]) == 2


@pytest.mark.parametrize(("value", "as_quantity", "as_text"), [
    (8.0, "8", "8"), (8, "8", "8"), (0.5, "500m", "0.5"), (2.25, "2250m", "2.25"), (12.0, "12", "12"),
], ids=["8.0 is 8", "an int stays whole", "a half is 500m", "2.25 is 2250m", "12.0 is 12"])
def test_targets_become_quantities_and_keda_numbers(value: float, as_quantity: str, as_text: str) -> None:
    assert quantity(value) == as_quantity
    assert quantity_text(value) == as_text


def test_render_rejects_what_the_adapter_would_not_build() -> None:
    rule = adapter_rules(load_spec(ROOT / "agentwatch.yaml"))[0]
    with pytest.raises(ValueError, match="zero objects"):
        render_metrics_query(rule, "ns", [])
    with pytest.raises(ValueError, match="not supported"):
        render_metrics_query({**rule, "metricsQuery": "<<.LabelValuesByName>>"}, "ns", ["a"])


@pytest.mark.parametrize(("pods", "matchers"), [
    (["a"], 'namespace="prod",pod="a"'),
    (["a", "b"], 'namespace="prod",pod=~"a|b"'),
], ids=["one pod gets an equality matcher", "several pods get a regex of names joined by |"])
def test_render_orders_matchers_like_the_adapter(pods: list[str], matchers: str) -> None:
    rule = adapter_rules(load_spec(ROOT / "agentwatch.yaml"))[0]
    name = rule["name"]["as"]
    window = load_spec(ROOT / "agentwatch.yaml").autoscaling.signal_window
    assert render_metrics_query(rule, "prod", pods) == f"sum by (pod) (avg_over_time({name}{{{matchers}}}[{window}]))"
