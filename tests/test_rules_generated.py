"""Generated alerting artefacts: up to date, accepted by promtool/amtool/the CRD schema, and tested."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import promql_parser as pp
import pytest
import yaml

from agentwatch.alerts import GENERATED_DIR, KPI_RULES, TESTS_DIR, render, slo_rules_path
from agentwatch.alerts import conventions as cv
from agentwatch.families import render_all
from agentwatch.spec import load_spec
from agentwatch.telemetry import catalogue as c

ROOT = Path(__file__).parent.parent
SPEC = load_spec(ROOT / "agentwatch.yaml")
FILES = render_all(SPEC, ["rules"])
RULE_FILES = sorted(p for p in FILES if p.startswith(GENERATED_DIR) and not p.startswith(TESTS_DIR)
                    and "alertmanager" not in p and "prometheusrule" not in p)
PROMTOOL_TESTS = sorted([p for p in FILES if p.startswith(TESTS_DIR)]
                        + ["alerts/tests/kpi-test.yaml", "alerts/tests/release-test.yaml"])


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: f"promtool accepts {p}")
def test_promtool_check_rules(path: str) -> None:
    result = subprocess.run(["promtool", "check", "rules", str(ROOT / path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    """Generated per-SLO scenarios and hand-written KPI tests, run side by side (2 cores)."""
    procs = {p: subprocess.Popen(["promtool", "test", "rules", str(ROOT / p)], cwd=ROOT / Path(p).parent,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for p in PROMTOOL_TESTS}
    failures = {p: proc.communicate()[0] for p, proc in procs.items()}
    failures = {p: out for p, out in failures.items() if procs[p].returncode != 0}
    assert not failures, "\n".join(f"{p}:\n{out[-3000:]}" for p, out in failures.items())


def test_every_scenario_of_the_issue_is_covered() -> None:
    names = [t["name"] for p in PROMTOOL_TESTS if "slo-" in p for t in yaml.safe_load(FILES[p])["tests"]]
    for words in ("page 1h/5m", "page 6h/30m", "ticket 1d/2h", "ticket 3d/6h", "spike", "resolves",
                  "zero traffic", "traffic stopping", "traffic-weighted"):
        assert sum(words in n for n in names) == len(SPEC.slos), words


def test_prometheus_rule_matches_the_crd_schema() -> None:
    schema = json.loads((ROOT / "tests/schemas/prometheusrule_v1.json").read_text())
    text = FILES[f"{GENERATED_DIR}/prometheusrule.yaml"]
    obj = yaml.safe_load(text)
    # The vendored schema keeps a Go-only regex ((?i) mid-pattern) we never exercise: skip check_schema.
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(obj))
    assert not errors, [e.message for e in errors]
    assert obj["apiVersion"] == "monitoring.coreos.com/v1" and obj["kind"] == "PrometheusRule"
    plain = [g for p in RULE_FILES for g in yaml.safe_load(FILES[p])["groups"]]
    by_name = sorted(obj["spec"]["groups"], key=lambda g: g["name"])
    assert by_name == sorted(plain, key=lambda g: g["name"])


def test_prometheus_rule_schema_rejects_a_broken_object() -> None:
    schema = json.loads((ROOT / "tests/schemas/prometheusrule_v1.json").read_text())
    obj = yaml.safe_load(FILES[f"{GENERATED_DIR}/prometheusrule.yaml"])
    obj["spec"]["groups"][0]["rules"][0]["recrod"] = "typo"
    assert list(jsonschema.Draft7Validator(schema).iter_errors(obj))


def test_amtool_accepts_the_alertmanager_config(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(FILES[f"{GENERATED_DIR}/alertmanager.yaml"])
    result = subprocess.run(["amtool", "check-config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("labels", "receiver"), [
    ("severity=page alertname=X service=support-agent", "page"),
    ("severity=ticket alertname=X service=support-agent", "ticket"),
    ("severity=info alertname=X", "default"),
], ids=["pages go to the page receiver", "tickets go to the ticket receiver", "anything else to default"])
def test_alertmanager_routes_by_severity(tmp_path: Path, labels: str, receiver: str) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(FILES[f"{GENERATED_DIR}/alertmanager.yaml"])
    result = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={config}", *labels.split()],
                            capture_output=True, text=True)
    assert result.stdout.strip() == receiver, result.stdout + result.stderr


def _names(node: object, found: set[str]) -> None:
    if isinstance(node, pp.VectorSelector):
        found.add(node.name)
    for attr in ("expr", "lhs", "rhs", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, (str, int, float)):
            _names(child, found)
    for arg in getattr(node, "args", None) or []:
        _names(arg, found)


def test_rules_read_only_catalogue_metrics_and_their_own_records() -> None:
    known = {s for m in c.METRICS for s in m.series_names} | set(c.EXTERNAL_METRICS)
    recorded = set()
    exprs = []
    for path in RULE_FILES:
        for group in yaml.safe_load(FILES[path])["groups"]:
            for rule in group["rules"]:
                recorded.add(rule.get("record", ""))
                exprs.append(rule["expr"])
    for expr in exprs:
        found: set[str] = set()
        _names(pp.parse(expr), found)
        assert found <= known | recorded, found - known - recorded


def test_sloth_names_are_recorded_for_every_slo() -> None:
    for slo in SPEC.slos:
        groups = yaml.safe_load(FILES[slo_rules_path(slo.name)])["groups"]
        records = {r["record"] for g in groups for r in g["rules"] if "record" in r}
        expected = {cv.sli_error_rule(w) for w in (*cv.SLI_ERROR_WINDOWS, slo.window)} | {
            cv.SLO_OBJECTIVE, cv.SLO_ERROR_BUDGET, cv.SLO_TIME_PERIOD_DAYS, cv.SLO_CURRENT_BURN_RATE,
            cv.SLO_PERIOD_BURN_RATE, cv.SLO_PERIOD_ERROR_BUDGET_REMAINING, cv.SLO_INFO}
        assert expected <= records
        assert [g["name"] for g in groups] == [f.format(id=SPEC.sloth_id(slo))
                                               for f in (cv.GROUP_SLI, cv.GROUP_META, cv.GROUP_ALERTS)]
        for g in groups:
            for rule in g["rules"]:
                if "record" in rule:
                    assert rule["labels"][cv.LABEL_ID] == f"support-agent-{slo.name}"
                else:
                    assert rule["labels"]["slo"] == slo.name and rule["labels"]["severity"] in ("page", "ticket")


@pytest.mark.parametrize(("period", "factors"), [("30d", ["14.4", "6", "3", "1"]),
                                                 ("28d", ["13.44", "5.6", "2.8", "0.933"]),
                                                 ("7d", ["3.36", "1.4", "0.7", "0.233"])],
                         ids=["30d uses the workbook factors", "28d scales them", "7d scales them"])
def test_burn_factors_scale_with_the_period(period: str, factors: list[str]) -> None:
    from agentwatch.alerts.windows import tiers

    assert [str(t.factor) for t in tiers(period)] == factors


def test_time_scaled_rules_are_valid_and_shrink_windows_only(tmp_path: Path) -> None:
    scaled = render(SPEC, time_scale=60)
    assert not any(p.startswith(TESTS_DIR) for p in scaled)
    text = scaled[slo_rules_path("messages-availability")]
    assert "TIME-SCALED" in text and "[5s]" in text and "[12h]" in text and "[30d]" not in text
    assert "slo:sli_error:ratio_rate30d" in text and "sloth_window: 30d" in text
    for path in (slo_rules_path("messages-availability"), KPI_RULES):
        target = tmp_path / Path(path).name
        target.write_text(scaled[path])
        result = subprocess.run(["promtool", "check", "rules", str(target)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_kpi_test_series_are_catalogue_metrics() -> None:
    known = {s for m in c.METRICS for s in m.series_names}
    tests = yaml.safe_load((ROOT / "alerts/tests/kpi-test.yaml").read_text())["tests"]
    names = {s["series"].split("{")[0] for t in tests for s in t["input_series"]}
    assert names <= known, names - known


@pytest.mark.parametrize("window", ["7d", "28d"], ids=["a 7d SLO generates valid rules", "a 28d SLO too"])
def test_other_windows_generate_valid_rules(tmp_path: Path, window: str) -> None:
    slo = SPEC.slos[0].model_copy(update={"window": window})
    files = render(SPEC.model_copy(update={"slos": (slo,)}))
    target = tmp_path / "slo.yaml"
    target.write_text(files[slo_rules_path(slo.name)])
    assert f"slo:sli_error:ratio_rate{window}" in target.read_text()
    result = subprocess.run(["promtool", "check", "rules", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
