"""Import OpenSLO ``openslo/v1`` documents (github.com/OpenSLO/OpenSLO).

Reads one file of one or more documents: ``kind: SLO`` with an inline ``indicator`` or an
``indicatorRef`` to a ``kind: SLI`` document of the same file. Converted: SLO name, description,
service, rolling ``timeWindow`` (30d/28d/4w/7d/1w), one objective (``target`` 0-1 or
``targetPercent``) and a Prometheus SLI:

* ``ratioMetric`` good or bad over total (counters wrapped in ``sum(rate(...[window]))``),
  recognised as the native availability/latency SLI when it is one, else a raw events SLI;
* ``ratioMetric.raw`` (a precomputed ratio; ``rawType`` ``failure`` is the error ratio, ``success``
  its complement) → a raw ``error_ratio`` SLI, the mean of the ratio over each window;
* ``thresholdMetric`` with the objective's ``op`` and ``value`` → a raw ``error_ratio`` SLI: the share
  of rule evaluations at which the metric broke the threshold, over each window (the time-slice reading
  of a threshold, at the evaluation interval).

Reported by path with a one-line reason each, never silently dropped: non-Prometheus sources,
non-counter good/bad/total ratios, calendar windows, ``Timeslices`` budgeting (converted as
occurrences), time-slice targets, extra objectives, ``alertPolicies``, other kinds, unknown keys.
"""

from __future__ import annotations

from typing import Any

import promql_parser as pp
import yaml

from agentwatch import promql as q
from agentwatch.spec.imports import ImportResult, Skipped, build_spec, unknown_keys
from agentwatch.spec.loader import Issue, Path_, SpecError, format_path, line_map
from agentwatch.spec.recognise import native_sli

__all__ = ["import_openslo"]

WINDOW = "{{.window}}"
_WINDOWS = {"30d": "30d", "28d": "28d", "4w": "28d", "7d": "7d", "1w": "7d"}
_SLO_SPEC = {"description", "service", "indicator", "indicatorRef", "timeWindow", "budgetingMethod",
             "objectives", "alertPolicies"}
#: A threshold objective's ``op`` (good when metric <op> value) → the comparison that is bad.
_BAD_OP = {"lt": ">=", "lte": ">", "gt": "<=", "gte": "<"}
_REASONS = {
    "alertPolicies": "agentwatch alerts are its multi-window burn-rate tiers (alerts/windows/<period>.yaml); "
                     "OpenSLO alert policies have no equivalent",
    "displayName": "agentwatch names SLOs by metadata.name",
    "timeSliceTarget": "agentwatch budgets occurrences (events or evaluations), not time slices",
    "timeSliceWindow": "agentwatch budgets occurrences (events or evaluations), not time slices",
    "labels": "OpenSLO metadata labels have no agentwatch equivalent",
    "annotations": "OpenSLO metadata annotations have no agentwatch equivalent",
}


def _is_selector(query: str) -> bool:
    try:
        return isinstance(pp.parse(query), pp.VectorSelector)
    except Exception:  # promql-parser raises plain exceptions on bad syntax
        return False


def _documents(text: str, file: str) -> tuple[list[Any], dict[Path_, int]]:
    try:
        docs = list(yaml.safe_load_all(text))
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SpecError([Issue(file, mark.line + 1 if mark else 1, "(root)",
                               f"YAML syntax error: {exc.problem}")]) from None
    lines: dict[Path_, int] = {}
    for i, node in enumerate(nodes):
        lines.update({(i, *p): n for p, n in line_map(node).items()})
    return docs, lines


def _source(metric: Any, path: Path_, skipped: list[Skipped]) -> str | None:
    """The PromQL of a ``{metricSource: {type, spec: {query}}}``, or ``None`` (reason recorded)."""
    source = (metric or {}).get("metricSource") or {}
    unknown_keys(source, {"type", "spec", "metricSourceRef"}, (*path, "metricSource"), skipped)
    if str(source.get("type", "")).lower() != "prometheus":
        skipped.append(Skipped((*path, "metricSource", "type"),
                               f"source type {source.get('type')!r} is not Prometheus, the only one agentwatch reads"))
        return None
    query = str((source.get("spec") or {}).get("query", "")).strip()
    if not query:
        skipped.append(Skipped((*path, "metricSource", "spec", "query"), "the Prometheus source has no query"))
        return None
    return query


def _counter(ratio: dict, key: str, path: Path_, skipped: list[Skipped]) -> str | None:
    query = _source(ratio.get(key), (*path, key), skipped)
    if query is None or "{{" in query:
        return query
    if ratio.get("counter", True):
        counted = f"{query}[{WINDOW}]" if _is_selector(query) else f"({query})[{WINDOW}:]"
        return q.sum_by(f"rate({counted})")
    skipped.append(Skipped((*path, "counter"), "good/bad/total of gauges (counter: false) have no event rate to "
                                               "divide; only counters convert"))
    return None


def _ratio_sli(ratio: dict, path: Path_, skipped: list[Skipped]) -> dict | None:
    unknown_keys(ratio, {"counter", "good", "bad", "total", "raw", "rawType"}, path, skipped)
    if "raw" in ratio:
        query = _source(ratio["raw"], (*path, "raw"), skipped)
        raw_type = str(ratio.get("rawType", "failure")).lower()
        if query is None:
            return None
        if raw_type not in ("success", "failure"):
            skipped.append(Skipped((*path, "rawType"), f"rawType {raw_type!r} is neither success nor failure"))
            return None
        mean = query if "{{" in query else q.mean_over(query, WINDOW)
        return {"raw": {"error_ratio": mean if raw_type == "failure" else f"1 - ({mean})"}}
    total = _counter(ratio, "total", path, skipped)
    which = "bad" if "bad" in ratio else "good"
    part = _counter(ratio, which, path, skipped)
    if total is None or part is None:
        return None
    if which == "bad":
        return native_sli(part, total) or {"raw": {"bad": part, "total": total}}
    return {"raw": {"good": part, "total": total}}


def _threshold_sli(metric: dict, objective: dict, path: Path_, opath: Path_,
                   skipped: list[Skipped]) -> dict | None:
    query = _source(metric, path, skipped)
    op = str(objective.get("op", "")).lower()
    if query is None:
        return None
    if op not in _BAD_OP or "value" not in objective:
        skipped.append(Skipped(opath, f"a thresholdMetric needs the objective's op ({', '.join(_BAD_OP)}) and value"))
        return None
    broken = f"({query}) {_BAD_OP[op]} bool {float(objective['value']):g}"
    return {"raw": {"error_ratio": q.mean_over(broken, WINDOW)}}


def _sli(sli_spec: dict, path: Path_, objective: dict, opath: Path_, skipped: list[Skipped]) -> dict | None:
    unknown_keys(sli_spec, {"ratioMetric", "thresholdMetric", "description"}, path, skipped)
    if isinstance(sli_spec.get("ratioMetric"), dict):
        return _ratio_sli(sli_spec["ratioMetric"], (*path, "ratioMetric"), skipped)
    if isinstance(sli_spec.get("thresholdMetric"), dict):
        return _threshold_sli(sli_spec["thresholdMetric"], objective, (*path, "thresholdMetric"), opath, skipped)
    skipped.append(Skipped(path, "the SLI is neither a ratioMetric nor a thresholdMetric"))
    return None


def _objective(spec: dict, path: Path_, skipped: list[Skipped]) -> tuple[dict, Path_]:
    objectives = spec.get("objectives") or [{}]
    for j in range(1, len(objectives)):
        skipped.append(Skipped((*path, "objectives", j), "agentwatch SLOs have one objective; only the first "
                                                         "converts"))
    first = objectives[0] or {}
    opath = (*path, "objectives", 0)
    unknown_keys(first, {"target", "targetPercent", "displayName", "op", "value", "timeSliceTarget",
                         "timeSliceWindow"}, opath, skipped)
    for key in ("displayName", "timeSliceTarget", "timeSliceWindow"):
        if key in first:
            skipped.append(Skipped((*opath, key), _REASONS[key]))
    return first, opath


def _slo(doc: dict, i: int, slis: dict[str, tuple[dict, Path_]], skipped: list[Skipped]) -> dict | None:
    spec, path = doc.get("spec") or {}, (i, "spec")
    unknown_keys(spec, _SLO_SPEC, path, skipped)
    unknown_keys(doc.get("metadata"), {"name"}, (i, "metadata"), skipped, _REASONS)
    if "alertPolicies" in spec:
        skipped.append(Skipped((*path, "alertPolicies"), _REASONS["alertPolicies"]))
    objective, opath = _objective(spec, path, skipped)
    name = (doc.get("metadata") or {}).get("name")
    if "indicator" in spec:
        sli = _sli((spec["indicator"] or {}).get("spec") or {}, (*path, "indicator", "spec"), objective, opath,
                   skipped)
    elif spec.get("indicatorRef") in slis:
        sli = _sli(*slis[spec["indicatorRef"]], objective, opath, skipped)
    else:
        skipped.append(Skipped((*path, "indicatorRef"), f"whole SLO {name!r} skipped: no SLI named "
                                                        f"{spec.get('indicatorRef')!r} in this file"))
        return None
    if sli is None:
        skipped.append(Skipped((i,), f"whole SLO {name!r} skipped: its SLI does not convert (see above)"))
        return None
    out: dict = {"name": name, "sli": sli}
    if spec.get("description"):
        out["description"] = spec["description"]
    window = (spec.get("timeWindow") or [{"duration": "30d", "isRolling": True}])[0]
    if not window.get("isRolling", False) or window.get("duration") not in _WINDOWS:
        skipped.append(Skipped((*path, "timeWindow", 0), "only rolling 30d/28d/4w/7d/1w windows convert; "
                                                         "used 30d"))
    else:
        out["window"] = _WINDOWS[window["duration"]]
    if spec.get("budgetingMethod", "Occurrences") != "Occurrences":
        skipped.append(Skipped((*path, "budgetingMethod"), f"{spec['budgetingMethod']} converted as Occurrences: "
                                                           "agentwatch budgets events, not time slices"))
    if "targetPercent" in objective:
        out["objective"] = objective["targetPercent"]
    elif "target" in objective:
        out["objective"] = round(float(objective["target"]) * 100, 10)
    return out


def import_openslo(text: str, file: str) -> ImportResult:
    docs, lines = _documents(text, file)
    skipped: list[Skipped] = []
    slis = {}
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict) or doc.get("apiVersion") != "openslo/v1":
            raise SpecError([Issue(file, lines.get((i,), 1), format_path((i, "apiVersion")),
                                   "not an OpenSLO v1 document (allowed: apiVersion openslo/v1)")])
        if doc.get("kind") == "SLI":
            slis[(doc.get("metadata") or {}).get("name")] = (doc.get("spec") or {}, (i, "spec"))
    services, slos, origin = [], [], {}
    for i, doc in enumerate(docs):
        if doc.get("kind") == "SLO":
            services.append((doc.get("spec") or {}).get("service"))  # a skipped SLO still names the service
            converted = _slo(doc, i, slis, skipped)
            if converted is not None:
                origin[len(slos)] = (i,)
                slos.append(converted)
        elif doc.get("kind") != "SLI":
            skipped.append(Skipped((i, "kind"), f"kind {doc.get('kind')!r} has no agentwatch equivalent "
                                                "(converted: SLO, SLI)"))
    for extra in sorted(set(services[1:]) - {services[0]} if services else ()):
        skipped.append(Skipped(("spec", "service"), f"{extra!r} differs from {services[0]!r}; one service per "
                                                    "agentwatch spec"))
    spec = {"version": "agentwatch/v1", "service": {"name": services[0] if services else None}, "slos": slos}
    return ImportResult(build_spec(spec, file, lines, origin), skipped, lines)
