"""Canary analysis generated from the SLOs: valid against the published CRD schemas (vendored in
tests/schemas), thresholds equal to the objectives, queries that parse once the controller fills in
its template variables. Proven against live agents in tests/test_releases_live.py."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import promql_parser
import pytest
import yaml

from agentwatch.families import render_all
from agentwatch.k8s import canary
from agentwatch.spec import load_spec
from agentwatch.spec.model import Spec

ROOT = Path(__file__).resolve().parents[1]
SPEC = load_spec(ROOT / "agentwatch.yaml")
FILES = render_all(SPEC, ["canary"])
OBJECTS = {path: yaml.safe_load(text) for path, text in FILES.items()}
SCHEMAS = {"AnalysisTemplate": "analysistemplate_v1alpha1.json", "Canary": "canary_v1beta1.json",
           "MetricTemplate": "metrictemplate_v1beta1.json"}
#: What Argo and Flagger put in place of their template variables.
FILLED = {"{{args.version}}": "1.2.0", "{{ namespace }}": "support-agent", "{{ target }}": "support-agent",
          "{{ interval }}": "5m"}


@cache
def validator(kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads((ROOT / "tests/schemas" / SCHEMAS[kind]).read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def fill(query: str) -> str:
    for variable, value in FILLED.items():
        query = query.replace(variable, value)
    assert "{{" not in query, query
    return query


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [o for o in OBJECTS.values() if o["kind"] == kind]


@pytest.mark.parametrize("path", sorted(FILES), ids=lambda p: f"{p} matches its CRD schema")
def test_every_object_matches_the_published_crd_schema(path: str) -> None:
    obj = OBJECTS[path]
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(obj["kind"]).iter_errors(obj)]
    assert not errors, errors


MISSPELT = {"AnalysisTemplate": lambda o: o["spec"]["metrics"][0].update(sucessCondition="x"),
            "MetricTemplate": lambda o: o["spec"]["provider"].update(adress="x"),
            "Canary": lambda o: o["spec"]["analysis"].update(treshold=1)}


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_the_schemas_reject_a_misspelt_field(kind: str) -> None:
    broken = copy.deepcopy(of_kind(kind)[0])
    MISSPELT[kind](broken)
    assert list(validator(kind).iter_errors(broken))


def test_argo_metrics_compare_the_canarys_good_share_with_each_slo_objective() -> None:
    [template] = of_kind("AnalysisTemplate")
    assert template["spec"]["args"] == [{"name": canary.ARGO_VERSION_ARG}]
    metrics = {m["name"]: m for m in template["spec"]["metrics"]}
    assert set(metrics) == {slo.name for slo in SPEC.slos}
    cfg = SPEC.releases.canary
    for slo in SPEC.slos:
        metric, objective = metrics[slo.name], str(Decimal(repr(slo.objective)) / 100)
        assert metric["successCondition"] == f"len(result) == 1 && result[0] >= {objective}"
        assert metric["failureCondition"] == f"len(result) == 1 && result[0] < {objective}"
        assert (metric["interval"], metric["count"], metric["failureLimit"], metric["inconclusiveLimit"]) == (
            cfg.interval, cfg.count, cfg.failure_limit, cfg.inconclusive_limit)
        query = metric["provider"]["prometheus"]["query"]
        assert 'version="{{args.version}}"' in query and f"[{cfg.window}]" in query
        promql_parser.parse(fill(query))


def test_flagger_templates_and_canary_take_the_thresholds_from_the_slos() -> None:
    [obj] = of_kind("Canary")
    analysis = obj["spec"]["analysis"]
    cfg = SPEC.releases.canary
    assert analysis["threshold"] == cfg.failure_limit + 1 and analysis["interval"] == cfg.interval
    by_name = {m["name"]: m for m in analysis["metrics"]}
    templates = {t["metadata"]["name"]: t for t in of_kind("MetricTemplate")}
    for slo in SPEC.slos:
        metric = by_name[slo.name]
        assert metric["thresholdRange"] == {"min": float(slo.objective_ratio)}
        template = templates[metric["templateRef"]["name"]]
        assert template["metadata"]["namespace"] == metric["templateRef"]["namespace"]
        query = template["spec"]["query"]
        assert f'pod=~"{canary.FLAGGER_CANARY_POD}"' in query and "[{{ interval }}]" in query
        promql_parser.parse(fill(query))


def test_a_spec_without_request_slis_has_no_canary_analysis() -> None:
    data = yaml.safe_load((ROOT / "agentwatch.yaml").read_text())
    data["slos"] = [{"name": "raw", "objective": 99, "sli": {"raw": {
        "bad": "sum(rate(x_bad[{{.window}}]))", "total": "sum(rate(x[{{.window}}]))"}}}]
    assert canary.render(Spec.model_validate(data)) == {}
