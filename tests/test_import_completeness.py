"""Import completeness: Sloth raw, plugin and disabled-alert SLOs, Sloth's own getting-started spec,
OpenSLO ratioMetric.raw and thresholdMetric — each converts to a spec that validates and whose
rules promtool accepts, or is named on stderr with a reason and a non-zero exit."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agentwatch.alerts import conventions as cv
from agentwatch.alerts import render, slo_rules_path
from agentwatch.alerts.context import Context
from agentwatch.alerts.simulate import go_g4
from agentwatch.alerts.sli_rules import AVERAGED_PERIOD_NOTE
from agentwatch.alerts.slo_alerts import alert_labels, alert_name, annotations
from agentwatch.alerts.windows import tiers
from agentwatch.artefacts import dump_yaml
from agentwatch.cli import app
from agentwatch.spec import Spec, load_spec
from agentwatch.spec.openslo import import_openslo
from agentwatch.spec.sloth import import_sloth
from agentwatch.spec.sloth_plugins import PLUGINS, PluginError, plugin_events

ROOT = Path(__file__).resolve().parents[1]
GETTING_STARTED = ROOT / "examples/sloth/getting-started.yml"
MIXED = ROOT / "examples/sloth/raw-plugin-disabled.yml"
OPENSLO = ROOT / "examples/openslo/raw-and-threshold.yaml"


def _promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)


def _check_rules(spec: Spec, tmp_path: Path) -> dict[str, str]:
    """Write every plain rule file of ``spec`` and have promtool check it; returns the files."""
    files = render(spec)
    for name, body in files.items():
        if "/generated/slo-" in name or name.endswith("kpi-rules.yaml"):
            target = tmp_path / Path(name).name
            target.write_text(body)
            check = _promtool("check", "rules", str(target))
            assert check.returncode == 0, check.stdout + check.stderr
    return files


def test_sloths_getting_started_is_refused_until_partial_is_allowed_then_validates(tmp_path: Path) -> None:
    out = tmp_path / "myservice.yaml"
    refused = CliRunner().invoke(app, ["import", "sloth", str(GETTING_STARTED), "-o", str(out)])
    assert refused.exit_code == 1 and not out.exists()
    lines = [line for line in refused.output.splitlines() if ": not converted: " in line]
    # The alert_for plugin, both `for`s and both severity labels: each named with its line and reason.
    assert [line.split(": not converted: ")[0] for line in lines] == [
        f"{GETTING_STARTED}:11: slo_plugins",
        f"{GETTING_STARTED}:31: slos[0].alerting.page_alert.for",
        f"{GETTING_STARTED}:33: slos[0].alerting.page_alert.labels.severity",
        f"{GETTING_STARTED}:36: slos[0].alerting.ticket_alert.for",
        f"{GETTING_STARTED}:38: slos[0].alerting.ticket_alert.labels.severity",
    ]
    assert all(line.split(": not converted: ")[1] for line in lines)
    accepted = CliRunner().invoke(app, ["import", "sloth", str(GETTING_STARTED), "-o", str(out), "--allow-partial"])
    assert accepted.exit_code == 0, accepted.output
    spec = load_spec(out)
    assert [s.name for s in spec.slos] == ["requests-availability"]
    slo = spec.slos[0]
    assert slo.alerting.page.labels == {"routing_key": "myteam"} and slo.alerting.name == "MyServiceHighErrorRate"
    files = _check_rules(spec, tmp_path)
    exprs = {r["record"]: r["expr"] for r in yaml.safe_load(files[slo_rules_path(slo.name)])["groups"][0]["rules"]}
    assert 'code=~"(5..|429)"' in exprs[cv.SLI_ERROR_EVENTS_RATE]  # Sloth's own error query, traffic-weighted


def test_raw_plugin_and_disabled_alerts_convert_completely(tmp_path: Path) -> None:
    result = import_sloth(MIXED.read_text(), str(MIXED))
    assert result.skipped == []
    spec = result.spec
    freshness, availability, latency, ingress = spec.slos
    assert freshness.sli.raw is not None and freshness.sli.raw.error_ratio is not None
    assert availability.sli.raw is not None and "http_request_duration_seconds_count" in availability.sli.raw.total
    assert latency.sli.raw is not None and 'le="0.25"' in latency.sli.raw.bad and 'code!~"5.."' in latency.sli.raw.bad
    assert ingress.sli.raw is not None and "nginx_ingress_controller_requests" in ingress.sli.raw.total
    assert freshness.alerting.ticket.disable and latency.alerting.page.disable and ingress.alerting.ticket.disable
    files = _check_rules(spec, tmp_path)
    severities = {}
    for slo in spec.slos:
        groups = yaml.safe_load(files[slo_rules_path(slo.name)])["groups"]
        alerts = [r for g in groups for r in g["rules"] if "alert" in r]
        severities[slo.name] = sorted({r["labels"]["severity"] for r in alerts})
    assert severities == {"index-freshness": ["page"], "api-availability": ["page", "ticket"],
                          "api-latency": ["ticket"], "ingress-availability": ["page"]}
    period = next(r for r in yaml.safe_load(files[slo_rules_path("index-freshness")])["groups"][0]["rules"]
                  if r["record"] == cv.sli_error_rule(freshness.window))
    assert period["expr"].startswith(AVERAGED_PERIOD_NOTE) and "count_over_time" in period["expr"]


def test_promtool_fires_the_raw_slis_page_alert_and_not_its_disabled_ticket(tmp_path: Path) -> None:
    """A shard stale from the start: error ratio 1, burn 100x the 1% budget; fresh shards: silence."""
    spec = import_sloth(MIXED.read_text(), str(MIXED)).spec
    slo = spec.slos[0]
    ctx = Context(spec)
    files = render(spec)
    rules = tmp_path / "slo-index-freshness.yaml"
    rules.write_text(files[slo_rules_path(slo.name)])
    page_fast = tiers(slo.window)[0]
    burn = 1 / float(slo.error_budget)
    expected = {"exp_labels": {**ctx.slo_labels(slo), **alert_labels(ctx, slo, page_fast)},
                "exp_annotations": annotations(ctx, slo, page_fast, f"{burn:.1f}", go_g4((1 - burn) * 100) + "%")}
    name = alert_name(slo, "page")
    fresh = "search_index_shard_fresh"
    test = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "group_eval_order": [g["name"] for g in yaml.safe_load(rules.read_text())["groups"]],
        "tests": [
            {"name": "fresh shards: nothing fires", "interval": "1m",
             "input_series": [{"series": f'{fresh}{{shard="a"}}', "values": "1x180"},
                              {"series": f'{fresh}{{shard="b"}}', "values": "1x180"}],
             "alert_rule_test": [{"eval_time": "150m", "alertname": name, "exp_alerts": []}]},
            {"name": "a shard stale from the start: the fast page tier fires, the disabled ticket never",
             "interval": "1m",
             "input_series": [{"series": f'{fresh}{{shard="a"}}', "values": "0x30"}],
             "alert_rule_test": [{"eval_time": "1m", "alertname": name, "exp_alerts": []},
                                 {"eval_time": "10m", "alertname": name, "exp_alerts": [expected]}],
             "promql_expr_test": [{"expr": f'count(ALERTS{{alertname="{name}",sloth_severity="ticket"}}) '
                                           "or vector(0)",
                                   "eval_time": "30m", "exp_samples": [{"labels": "{}", "value": 0}]}]},
        ],
    }
    test_file = tmp_path / "raw-test.yaml"
    test_file.write_text(dump_yaml(test))
    run = _promtool("test", "rules", str(test_file))
    assert run.returncode == 0, run.stdout + run.stderr


def test_openslo_raw_ratio_and_threshold_become_error_ratio_slis(tmp_path: Path) -> None:
    result = import_openslo(OPENSLO.read_text(), str(OPENSLO))
    assert result.skipped == []
    hit, lag = result.spec.slos
    assert hit.sli.raw is not None and hit.sli.raw.error_ratio.startswith("1 - (")  # rawType success
    assert lag.sli.raw is not None and ">= bool 120" in (lag.sli.raw.error_ratio or "")  # lt 120 is good
    assert (hit.window, lag.window) == ("7d", "28d")
    _check_rules(result.spec, tmp_path)


@pytest.mark.parametrize(("doc", "where", "why"), [
    ("spec:\n  service: s\n  indicator:\n    spec:\n      thresholdMetric:\n        metricSource:\n"
     "          type: Prometheus\n          spec: {query: x}\n  objectives:\n    - target: 0.9\n",
     "[0].spec.objectives[0]", "needs the objective's op"),
    ("spec:\n  service: s\n  indicator:\n    spec:\n      ratioMetric:\n        raw:\n          metricSource:\n"
     "            type: Datadog\n            spec: {query: x}\n  objectives:\n    - target: 0.9\n",
     "[0].spec.indicator.spec.ratioMetric.raw.metricSource.type", "not Prometheus"),
], ids=["a threshold without op", "a non-Prometheus raw ratio"])
def test_openslo_fields_that_do_not_map_say_why(doc: str, where: str, why: str) -> None:
    text = "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\n" + doc
    result = import_openslo(text, "in.yaml")
    reasons = {str(s).split(": ", 1)[0]: str(s).split(": ", 1)[1] for s in result.skipped}
    assert why in reasons[where]
    assert "whole SLO 'x' skipped" in reasons["[0]"] and result.spec.slos == ()


def test_every_common_plugin_converts_to_events_promtool_accepts(tmp_path: Path) -> None:
    options = {"filter": 'job="x"', "bucket": "0.5", "service": "api", "namespace": "prod",
               "service_name_regex": "api.*"}
    slos = []
    for i, name in enumerate(PLUGINS):
        plugin = PLUGINS[name]
        given = {k: v for k, v in options.items() if k in plugin.required or k == "filter"}
        bad, total = plugin_events(f"sloth-common/{name}", given)
        slos.append({"name": f"p{i}", "objective": 99, "sli": {"raw": {"bad": bad, "total": total}}})
    spec = Spec.model_validate({"version": "agentwatch/v1", "service": {"name": "plugins"}, "slos": slos})
    _check_rules(spec, tmp_path)


@pytest.mark.parametrize(("plugin", "options", "why"), [
    ("sloth-common/noop", {}, "has no agentwatch equivalent"),
    ("sloth-common/istio/v1/availability", {"service": "a"}, "needs option(s) namespace"),
    ("sloth-common/kubernetes/apiserver/latency", {"bucket": "fast"}, "is not a number"),
    ("sloth-common/kubernetes/apiserver/availability", {"filter": "job=api"}, "not a list of label matchers"),
])
def test_a_plugin_that_cannot_convert_skips_its_slo_with_the_reason(plugin: str, options: dict, why: str) -> None:
    with pytest.raises(PluginError, match=re.escape(why)):
        plugin_events(plugin, options)
    text = ("version: prometheus/v1\nservice: s\nslos:\n  - name: a\n    objective: 99\n    sli:\n      plugin:\n"
            f"        id: {plugin}\n        options: {yaml.safe_dump(options, default_flow_style=True).strip()}\n")
    result = import_sloth(text, "in.yml")
    assert result.spec.slos == ()
    [message] = result.messages("in.yml")
    assert message.startswith("in.yml:7: slos[0].sli.plugin: not converted: whole SLO skipped: ")
    assert why in message
