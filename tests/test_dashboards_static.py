"""The generated dashboards: committed and current, valid Grafana JSON, and every query sound.

No Grafana runs here, so validity is checked structurally (schemaVersion, unique ids, grid without
overlaps, targets with refId and datasource) and every PromQL expression is parsed with the real
``promql_parser`` after Grafana-style variable substitution; each metric it names must be in the
catalogue, in the recording rules, or in ``catalogue.EXTERNAL_METRICS``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import promql_parser
import pytest
import yaml

from agentwatch.alerts import conventions as conv
from agentwatch.dashboards.capacity import KUBERNETES_ONLY_PANELS
from agentwatch.dashboards.config import DASHBOARD_FILES, JAEGER_UID, SCHEMA_VERSION, TAG, dashboard_uid
from agentwatch.dashboards.export import IMPORT_DIR, PROVISIONING_DIR
from agentwatch.dashboards.grafana import TimeContext, interpolate, metric_names, needs_kubernetes, resolve_variables
from agentwatch.families import render_all
from agentwatch.spec import load_spec
from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry.catalogue import EXEMPLAR_TRACE_ID

ROOT = Path(__file__).resolve().parents[1]
SPEC = load_spec(ROOT / "agentwatch.yaml")
FILES = render_all(SPEC, ["dashboards"])
STEMS = list(DASHBOARD_FILES)
DASHBOARDS = {stem: json.loads(FILES[f"{PROVISIONING_DIR}/{stem}.json"]) for stem in STEMS}
#: Labels Prometheus or Kubernetes service discovery put on scraped series.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "le", "__name__"}


def _queries(stem: str) -> list[tuple[str, str, dict]]:
    data = DASHBOARDS[stem]
    values = resolve_variables(data, None, TimeContext(end=0))
    return [(panel["title"], interpolate(t["expr"], values), t)
            for panel in data["panels"] for t in panel.get("targets", [])]


#: What Sloth itself records (its SLI windows, the period window, the meta rules).
SLOTH_NAMES = {conv.sli_error_rule(w) for w in (*conv.SLI_ERROR_WINDOWS, "30d", "28d", "7d")} | {
    conv.SLO_OBJECTIVE, conv.SLO_ERROR_BUDGET, conv.SLO_TIME_PERIOD_DAYS, conv.SLO_CURRENT_BURN_RATE,
    conv.SLO_PERIOD_BURN_RATE, conv.SLO_PERIOD_ERROR_BUDGET_REMAINING, conv.SLO_INFO}


def _recorded_names() -> set[str]:
    names = set(SLOTH_NAMES)
    for rules in (ROOT / "alerts/generated").glob("*.yaml"):
        data = yaml.safe_load(rules.read_text()) or {}
        for group in data.get("groups", []) if isinstance(data, dict) else []:
            names |= {r["record"] for r in group["rules"] if "record" in r}
    return names


KNOWN_METRICS = {n for m in c.METRICS for n in m.series_names} | _recorded_names() | set(c.EXTERNAL_METRICS)
ALL_QUERIES = [(stem, title, expr) for stem in STEMS for title, expr, _ in _queries(stem)]


@pytest.mark.parametrize("stem", STEMS, ids=lambda s: f"{s} is valid Grafana dashboard JSON")
def test_dashboard_structure_is_valid(stem: str) -> None:
    data = DASHBOARDS[stem]
    assert data["schemaVersion"] == SCHEMA_VERSION
    assert data["uid"] == dashboard_uid(stem) and len(data["uid"]) <= 40
    assert data["title"] == DASHBOARD_FILES[stem]
    assert TAG in data["tags"] and data["time"]["from"].startswith("now-") and data["refresh"]
    assert "DO NOT EDIT" in data["description"]
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in data["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]
        covered = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not covered & cells, f"panel {panel['title']!r} overlaps another"
        cells |= covered


@pytest.mark.parametrize("stem", STEMS, ids=lambda s: f"every panel of {s} has a unit, description and thresholds")
def test_every_panel_is_documented_with_unit_and_thresholds(stem: str) -> None:
    for panel in DASHBOARDS[stem]["panels"]:
        if panel["type"] == "row":
            continue
        defaults = panel["fieldConfig"]["defaults"]
        assert panel.get("description"), f"{panel['title']}: no description"
        assert defaults.get("unit"), f"{panel['title']}: no unit"
        steps = defaults["thresholds"]["steps"]
        assert steps and steps[0]["value"] is None, f"{panel['title']}: thresholds need a base step"
        values = [s["value"] for s in steps[1:]]
        assert values == sorted(values), f"{panel['title']}: thresholds must increase"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), f"{panel['title']}: refIds must be unique"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}" and target["expr"]


@pytest.mark.parametrize("stem", STEMS, ids=lambda s: f"{s} has datasource, job and instance variables")
def test_variables_and_links(stem: str) -> None:
    data = DASHBOARDS[stem]
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert {"job", "instance", "namespace"} <= set(variables)
    assert any(link["type"] == "dashboards" and TAG in link["tags"] for link in data["links"])
    uids = {dashboard_uid(s) for s in STEMS}
    for panel in data["panels"]:
        for link in panel.get("links", []):
            match = re.match(r"/d/([0-9a-f]+)/", link["url"])
            assert match is None or match.group(1) in uids, f"{panel['title']}: link to an unknown dashboard"
    exemplar_panels = [p for p in data["panels"] if any(t.get("exemplar") for t in p.get("targets", []))]
    if exemplar_panels:
        assert variables["jaeger"]["type"] == "datasource" and variables["jaeger"]["query"] == "jaeger"
        for panel in exemplar_panels:
            assert any("${jaeger}" in link["url"] for link in panel["links"]), panel["title"]


def _reads_raw_histograms(panel: dict) -> bool:
    """Recorded series (``level:metric:op``) carry no exemplars; raw histogram buckets do."""
    values = resolve_variables(DASHBOARDS["agentwatch-overview"], None, TimeContext(end=0))
    return any(":" not in name for t in panel["targets"] for name in metric_names(interpolate(t["expr"], values)))


def test_latency_panels_have_exemplars_and_a_heatmap() -> None:
    overview = DASHBOARDS["agentwatch-overview"]["panels"]
    latency = [p for p in overview if p.get("fieldConfig", {}).get("defaults", {}).get("unit") == "s"
               and p["type"] in ("timeseries", "heatmap") and _reads_raw_histograms(p)]
    assert latency and all(any(t["exemplar"] for t in p["targets"]) for p in latency)
    heatmaps = [p for p in overview if p["type"] == "heatmap"]
    assert heatmaps and all(t["format"] == "heatmap" for p in heatmaps for t in p["targets"])


@pytest.mark.parametrize(("stem", "title", "expr"), ALL_QUERIES,
                         ids=[f"{s}: {t} query parses and names known metrics" for s, t, _ in ALL_QUERIES])
def test_every_query_parses_and_names_only_known_metrics(stem: str, title: str, expr: str) -> None:
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    promql_parser.parse(expr)  # raises on a syntax error
    unknown = metric_names(expr) - KNOWN_METRICS
    assert not unknown, f"{title}: unknown metric(s) {unknown}"


def test_agent_queries_use_only_labels_the_metric_has() -> None:
    for stem in STEMS:
        for title, expr, _ in _queries(stem):
            def visit(node: object, title: str = title) -> None:
                if isinstance(node, promql_parser.VectorSelector) and node.name:
                    try:
                        metric = c.by_name(node.name)
                    except KeyError:
                        return
                    allowed = set(metric.labels) | TARGET_LABELS
                    used = {m.name for m in node.matchers.matchers}
                    assert used <= allowed, f"{title}: {node.name} has no label(s) {used - allowed}"

            promql_parser.walk(promql_parser.parse(expr), visit)


def test_kubernetes_only_panels_are_exactly_the_documented_ones() -> None:
    derived = {title for stem in STEMS for title, expr, _ in _queries(stem) if needs_kubernetes(expr)
               and all(needs_kubernetes(e) for t, e, _ in _queries(stem) if t == title)}
    assert derived == set(KUBERNETES_ONLY_PANELS)


def test_slo_dashboard_reads_only_sloth_rule_names() -> None:
    """Works on rules Sloth generated: no SLO query depends on an agentwatch-only recording."""
    for title, expr, _ in _queries("agentwatch-slos"):
        recorded = {n for n in metric_names(expr) if n not in {m for x in c.METRICS for m in x.series_names}
                    and n not in c.EXTERNAL_METRICS}
        assert recorded <= SLOTH_NAMES, f"{title}: {recorded - SLOTH_NAMES}"


@pytest.mark.parametrize("stem", STEMS, ids=lambda s: f"import form of {s} asks for its datasources")
def test_import_form_has_inputs(stem: str) -> None:
    provisioning = DASHBOARDS[stem]
    imported = json.loads(FILES[f"{IMPORT_DIR}/{stem}.json"])
    inputs = {i["name"]: i for i in imported["__inputs"]}
    assert inputs["DS_PROMETHEUS"]["pluginId"] == "prometheus" and inputs["DS_PROMETHEUS"]["type"] == "datasource"
    variables = {v["name"]: v for v in imported["templating"]["list"]}
    assert variables["datasource"]["current"]["value"] == "${DS_PROMETHEUS}"
    if "jaeger" in variables:
        assert variables["jaeger"]["current"]["value"] == "${DS_JAEGER}" and "DS_JAEGER" in inputs
    assert {r["id"] for r in imported["__requires"]} >= {"grafana", "prometheus"}
    assert imported["panels"] == provisioning["panels"]
    assert "__inputs" not in provisioning


def test_datasource_provisioning_links_exemplars_to_jaeger() -> None:
    data = yaml.safe_load(FILES["dashboards/generated/grafana-provisioning/datasources/agentwatch.yaml"])
    by_type = {d["type"]: d for d in data["datasources"]}
    assert data["apiVersion"] == 1
    destination = by_type["prometheus"]["jsonData"]["exemplarTraceIdDestinations"][0]
    assert destination == {"name": EXEMPLAR_TRACE_ID, "datasourceUid": by_type["jaeger"]["uid"],
                           "urlDisplayLabel": destination["urlDisplayLabel"]}
    assert by_type["jaeger"]["uid"] == JAEGER_UID


def test_dashboard_provider_points_at_a_folder() -> None:
    text = FILES["dashboards/generated/grafana-provisioning/dashboards/agentwatch.yaml"]
    assert text.startswith("# generated by agentwatch from")
    provider = yaml.safe_load(text)["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"]
    assert provider["options"]["foldersFromFilesStructure"] is False and provider["folderUid"]
