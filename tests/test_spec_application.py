"""Generators follow the spec, not the reference agent: KPI alerts only when named, closed sets the
application declares, dashboards without panels on metrics it does not emit, and a Deployment that
runs its command with its probes and environment."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from agentwatch.alerts import KPI_RULES, PROMETHEUS_RULE, render
from agentwatch.alerts import conventions as cv
from agentwatch.dashboards.export import PROVISIONING_DIR
from agentwatch.dashboards.export import render as render_dashboards
from agentwatch.k8s.workload import deployment
from agentwatch.spec import SpecError, load_spec, parse_spec
from agentwatch.spec.loader import load_yaml
from agentwatch.spec.model import KPI_DEFAULTS
from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry.closed_sets import ClosedSetError, ClosedSets

ROOT = Path(__file__).resolve().parents[1]
BASE = """\
version: agentwatch/v1
service:
  name: docs-helper
slos:
  - name: ask-availability
    objective: 99
    sli:
      availability:
        route: /v1/ask
"""
APPLICATION = """\
application:
  metrics: [http, errors, queue, inference]
  intents: [search, other]
  error_classes: {tool_failed: 502, no_match: 404}
"""


def _spec(text: str):
    data, lines = load_yaml(text, "spec.yaml")
    return parse_spec(data, lines, "spec.yaml")


def _kpi_alerts(spec) -> list[dict]:
    return [r for g in yaml.safe_load(render(spec)[KPI_RULES])["groups"] for r in g["rules"]]


def test_a_spec_without_kpis_generates_no_kpi_alert(tmp_path: Path) -> None:
    spec = _spec(BASE)
    files = render(spec)
    assert _kpi_alerts(spec) == []
    groups = yaml.safe_load(files[PROMETHEUS_RULE])["spec"]["groups"]
    assert not [g for g in groups if g["name"] == cv.GROUP_KPI.format(service="docs-helper")]
    assert not any(r.get("labels", {}).get("kpi") for g in groups for r in g["rules"])
    target = tmp_path / "kpi-rules.yaml"
    target.write_text(files[KPI_RULES])
    check = subprocess.run(["promtool", "check", "rules", str(target)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_release_rules_compare_versions_only_on_what_the_service_records() -> None:
    spec = _spec(BASE + APPLICATION)
    groups = yaml.safe_load(render(spec)[PROMETHEUS_RULE])["spec"]["groups"]
    records = {r.get("record") for g in groups for r in g["rules"]}
    assert cv.version_rule(cv.VERSION_REQUESTS, spec.releases.window) in records
    for rule in (cv.VERSION_ENDED, cv.VERSION_ESCALATION, cv.VERSION_FCR):  # no conversations emitted
        assert cv.version_rule(rule, spec.releases.kpi_window) not in records


def test_only_the_named_kpis_are_generated_each_from_its_defaults() -> None:
    spec = _spec(BASE + APPLICATION + "kpis:\n  queue_saturation: {}\n  error_class_spike: {above: 1}\n"
                 "  no_traffic: true\n")
    alerts = {r["labels"]["kpi"]: r for r in _kpi_alerts(spec)}
    assert list(alerts) == ["error_class_spike", "queue_saturation", "no_traffic"]
    assert alerts["queue_saturation"]["expr"].endswith(f"> {KPI_DEFAULTS['queue_saturation']['above']:g}")
    assert alerts["queue_saturation"]["for"] == KPI_DEFAULTS["queue_saturation"]["for"]
    # The spike watches the application's declared server-side classes, its own included.
    spike = alerts["error_class_spike"]["expr"]
    assert "tool_failed" in spike and "overloaded" in spike and "no_match" not in spike
    assert "state_store_unavailable" not in spike


def test_the_committed_spec_names_every_kpi_it_alerts_on() -> None:
    spec = load_spec(ROOT / "agentwatch.yaml")
    assert spec.kpis is not None and list(spec.kpis.declared()) == list(KPI_DEFAULTS)
    assert spec.application is None and spec.closed_sets == ClosedSets.reference()


@pytest.mark.parametrize(("extra", "line", "field", "words"), [
    (APPLICATION + "kpis:\n  error_class_spike: {classes: [tool_failed, oops]}\n", 15,
     "kpis.error_class_spike.classes", ["oops", "tool_failed", "no_match"]),
    (APPLICATION + "kpis:\n  model_not_loaded: {}\n", 15, "kpis.model_not_loaded",
     [c.MODEL_LOADED.name, "does not include model"]),
    (APPLICATION.replace("inference]", "inference, conversations]") + "  outcomes: [answered]\n"
     "kpis:\n  escalation_rate: {}\n", 16, "kpis.escalation_rate", ["escalated", "answered"]),
    (APPLICATION.replace("[http,", "[http, quantum,"), 11, "application.metrics", ["quantum", "allowed: http"]),
    (APPLICATION.replace(" queue,", "") + "autoscaling: {min_replicas: 1}\n", 14, "autoscaling",
     [c.QUEUE_LENGTH.name, "does not include queue"]),
    (APPLICATION.replace("no_match: 404", "no_match: 200"), 10, "application", ["no_match", "400-599"]),
    (APPLICATION.replace("no_match: 404", "overloaded: 503"), 10, "application",
     ["overloaded", "library class", "429"]),
    (APPLICATION.replace("[search, other]", "[Search Docs]"), 10, "application", ["Search Docs", "lower_snake"]),
], ids=["a KPI on an undeclared error class", "a KPI on a metric group not emitted",
        "a conversation KPI without its outcome", "an unknown metric group",
        "autoscaling on a queue the service does not have", "a non-error status",
        "a library class redeclared", "a label value that is not snake_case"])
def test_declared_sets_are_checked_with_file_line_and_field(extra: str, line: int, field: str,
                                                            words: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        _spec(BASE + extra)
    issue = info.value.issues[0]
    assert (issue.line, issue.path) == (line, field), str(info.value)
    for word in words:
        assert word in issue.message, issue.message


def test_a_declared_error_class_outside_the_built_in_list_is_accepted() -> None:
    spec = _spec(BASE + APPLICATION + "kpis:\n  error_class_spike: {classes: [tool_failed]}\n")
    assert spec.closed_sets.status("tool_failed") == 502
    assert "tool_failed" not in c.ERROR_CLASSES
    assert spec.closed_sets.values()["intent"] == ("search", "other")
    assert spec.closed_sets.values()["error_class"][:len(c.LIBRARY_ERROR_CLASSES)] == tuple(c.LIBRARY_ERROR_CLASSES)


def test_closed_sets_refuse_what_could_mint_series() -> None:
    with pytest.raises(ClosedSetError, match="at most"):
        ClosedSets(intents=tuple(f"i{n}" for n in range(100)))
    with pytest.raises(ClosedSetError, match="lower_snake_case"):
        ClosedSets(outcomes=("done!",))
    assert ClosedSets.from_spec(ROOT / "examples/retrieval-agent/agentwatch.yaml").status("tool_failed") == 502


def test_dashboards_leave_out_panels_on_metrics_the_service_does_not_emit() -> None:
    spec = _spec(BASE + APPLICATION)
    files = render_dashboards(spec)
    stems = sorted(Path(p).stem for p in files if p.startswith(PROVISIONING_DIR))
    assert stems == ["agentwatch-capacity", "agentwatch-overview", "agentwatch-slos"]  # no intents: no KPI board
    overview = json.loads(files[f"{PROVISIONING_DIR}/agentwatch-overview.json"])
    exprs = " ".join(t["expr"] for p in overview["panels"] for t in p.get("targets", []))
    emitted = set(spec.application.metrics)
    for metric in c.METRICS:
        if metric.group not in emitted:
            assert metric.name not in exprs, metric.name
    assert c.QUEUE_WAIT.name in exprs and c.ERRORS.name in exprs
    rows = [p["title"] for p in overview["panels"] if p["type"] == "row"]
    assert rows == ["Traffic and errors", "Release comparison", "Latency", "Inference and queue"]  # no lifecycle row
    titles = [p["title"] for p in overview["panels"]]
    assert not [t for t in titles if t.startswith(("Escalation rate by version", "First-contact resolution by"))]


def test_the_reference_spec_keeps_every_dashboard_panel() -> None:
    files = render_dashboards(load_spec(ROOT / "agentwatch.yaml"))
    for path, text in files.items():
        if path.startswith(PROVISIONING_DIR):
            committed = json.loads((ROOT / path).read_text())
            assert json.loads(text)["panels"] == committed["panels"]


def test_the_deployment_runs_the_specs_command_probes_and_env() -> None:
    spec = load_spec(ROOT / "examples/retrieval-agent/agentwatch.yaml")
    container = deployment(spec)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/example/docs-helper:1.0.0"
    assert container["command"] == ["python", "retrieval_agent.py"]
    assert container["args"] == ["--host", "0.0.0.0", "--port", "8080"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DOCS_HELPER_LOAD_SECONDS"] == "2" and env["OTEL_SERVICE_NAME"] == "docs-helper"
    assert not {"REDIS_URL", "AGENT_TORCH_THREADS", "HF_HUB_OFFLINE"} & set(env)  # the reference agent's only
    assert container["startupProbe"]["failureThreshold"] == 6  # 30 s of 5 s periods

    text = BASE + ("autoscaling:\n  command: [node, server.js]\n  port: 3000\n  redis_secret: cache\n"
                   "  env: {HOME: /home/app}\n  probes: {startup: null, readiness: /ready, liveness: /live}\n")
    container = deployment(_spec(text))["spec"]["template"]["spec"]["containers"][0]
    assert "args" not in container and container["ports"][0]["containerPort"] == 3000
    assert "startupProbe" not in container
    assert (container["readinessProbe"]["httpGet"]["path"], container["livenessProbe"]["httpGet"]["path"]) == \
        ("/ready", "/live")
    env = {e["name"]: e for e in container["env"]}
    assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"] == "cache"
    assert env["HOME"]["value"] == "/home/app" and [e["name"] for e in container["env"]].count("HOME") == 1


def test_bad_workload_settings_name_the_field() -> None:
    with pytest.raises(SpecError) as info:
        _spec(BASE + "autoscaling:\n  env: {\"1BAD\": x}\n")
    assert info.value.issues[0].path == "autoscaling.env" and "1BAD" in str(info.value)
    with pytest.raises(SpecError) as info:
        _spec(BASE + "autoscaling:\n  probes: {readiness: ready}\n")
    assert info.value.issues[0].path == "autoscaling.probes.readiness"
