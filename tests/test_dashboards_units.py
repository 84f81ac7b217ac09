"""The dashboards' building blocks: Grafana variable semantics, layout, spec input, units, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grafanalib import core as g
from typer.testing import CliRunner

from agentwatch.cli import app
from agentwatch.dashboards.config import DashboardConfig, from_spec
from agentwatch.dashboards.export import PROVISIONING_DIR, render
from agentwatch.dashboards.grafana import TimeContext, duration, interpolate, needs_kubernetes, resolve_variables
from agentwatch.dashboards.layout import Cell, Section, place
from agentwatch.dashboards.units import format_value
from agentwatch.families import render_all
from agentwatch.spec import Spec, load_spec
from agentwatch.telemetry import catalogue as c

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("seconds", "text"), [(60, "1m"), (90, "90s"), (3600, "1h"), (86400, "1d"), (0.2, "1s")],
                         ids=lambda v: str(v))
def test_duration_text(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(("range_s", "scrape_s", "rate_interval"), [
    (3600, 15, "1m"),     # Grafana's floor: 4 x scrape interval
    (86400, 15, "188s"),  # a day on ~500 points: $__interval 173 s + 15 s
    (3600, 1, "9s"),      # 1 s scrape: $__interval 8 s (3600/500) + 1 s
], ids=["one hour at 15s gives 4 scrapes", "one day grows with the interval", "fast scrapes follow the interval"])
def test_rate_interval_follows_grafana(range_s: float, scrape_s: float, rate_interval: str) -> None:
    got = TimeContext(end=0, range_s=range_s, scrape_s=scrape_s).builtins()["__rate_interval"]
    assert got == rate_interval


@pytest.mark.parametrize(("text", "expected"), [
    ('up{job=~"$job"}', 'up{job=~"agent"}'),
    ('up{job=~"${job}"}[$__rate_interval]', 'up{job=~"agent"}[1m]'),
    ('up{job=~"${job:regex}"}', 'up{job=~"agent"}'),
    ('up{job=~"[[job]]"}', 'up{job=~"agent"}'),
    ('up{job=~"$jobs"}', 'up{job=~"$jobs"}'),
], ids=["plain", "braces and a builtin", "with a format", "legacy brackets", "unknown names stay"])
def test_interpolate_like_grafana(text: str, expected: str) -> None:
    assert interpolate(text, {"job": "agent", "__rate_interval": "1m"}) == expected


def test_all_expands_to_all_value_or_the_option_list() -> None:
    dashboard = {"templating": {"list": [
        {"name": "ns", "type": "query", "query": "label_values(x, namespace)", "includeAll": True, "allValue": ".*"},
        {"name": "job", "type": "query", "query": "label_values(x, job)", "includeAll": True, "allValue": None},
        {"name": "w", "type": "custom", "query": "5m,1h", "current": {"value": "1h"}},
    ]}}
    values = resolve_variables(dashboard, None, TimeContext(end=0))
    assert values["ns"] == ".*" and values["job"] == "()" and values["w"] == "1h"


@pytest.mark.parametrize(("expr", "k8s"), [
    ('kube_deployment_spec_replicas{namespace=~".*"}', True),
    ("container_memory_working_set_bytes or on () process_resident_memory_bytes", False),
    (c.QUEUE_LENGTH.name, False),
], ids=["kube-state-metrics only", "cAdvisor with a process fallback", "agent metric"])
def test_needs_kubernetes(expr: str, k8s: bool) -> None:
    assert needs_kubernetes(expr) is k8s


def test_layout_wraps_rows_and_numbers_panels() -> None:
    panels = place([Section("a", [Cell(g.Stat(title="x"), 16, 4), Cell(g.Stat(title="y"), 16, 6)]),
                    Section("b", [Cell(g.Stat(title="z"), 24, 3)])])
    positions = [(p.title, p.id, p.gridPos.x, p.gridPos.y) for p in panels]
    assert positions == [("a", 1, 0, 0), ("x", 2, 0, 1), ("y", 3, 0, 5), ("b", 4, 0, 11), ("z", 5, 0, 12)]


def test_layout_rejects_a_panel_wider_than_the_grid() -> None:
    with pytest.raises(ValueError, match="width 25"):
        place([Section("a", [Cell(g.Stat(title="x"), 25, 4)])])


def test_config_from_the_real_spec_and_from_nothing() -> None:
    spec = load_spec(ROOT / "agentwatch.yaml")
    cfg = from_spec(spec)
    assert cfg.service == spec.service.name
    assert cfg.slo_names == tuple(s.name for s in spec.slos)
    latency = [s.sli.latency.threshold for s in spec.slos if s.sli.latency]
    assert cfg.latency_threshold_seconds == (latency[0] if latency else DashboardConfig().latency_threshold_seconds)
    assert from_spec(None) == DashboardConfig()


def test_spec_selector_narrows_the_job_variable() -> None:
    spec = Spec.model_validate({"version": "agentwatch/v1", "service": {"name": "svc", "selector": {"job": "support"}}})
    overview = json.loads(render(spec)[f"{PROVISIONING_DIR}/agentwatch-overview.json"])
    job = next(v for v in overview["templating"]["list"] if v["name"] == "job")
    assert 'job="support"' in job["query"]


@pytest.mark.parametrize(("value", "unit", "text"), [
    (0.0123, "percentunit", "1.23%"), (0.0042, "s", "4.20 ms"), (2.5, "s", "2.50 s"), (3, "short", "3"),
    (3.5 * 2**20, "bytes", "3.50 MiB"), (15500, "reqps", "15.50k req/s"), (1591, "short", "1591"), (None, "short", "-"),
], ids=["percent", "milliseconds", "seconds", "whole numbers", "mebibytes", "kilo requests",
        "short keeps four digits", "no value"])
def test_units(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_cli_generate_writes_what_render_all_returns(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["generate", "dashboards", "--spec", str(ROOT / "agentwatch.yaml"),
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    expected = render_all(load_spec(ROOT / "agentwatch.yaml"), ["dashboards"])
    for relpath, text in expected.items():
        assert (tmp_path / relpath).read_text() == text


def test_cli_generate_reports_an_invalid_spec_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: agentwatch/v1\nservice:\n  name: Not_Valid\n")
    result = CliRunner().invoke(app, ["generate", "dashboards", "--spec", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{bad}:3: service.name" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--range", "soon"], "is not a duration"),
    (["--dashboard", "nope"], "unknown dashboard"),
], ids=["a bad range is refused", "an unknown dashboard lists the known ones"])
def test_cli_render_refuses_bad_input(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["dashboards", "render", "--prometheus", "http://127.0.0.1:9",
                                      "--spec", str(ROOT / "agentwatch.yaml"), *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
