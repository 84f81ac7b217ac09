"""Import OpenSLO ``openslo/v1`` documents (github.com/OpenSLO/OpenSLO).

Reads one file of one or more documents: ``kind: SLO`` with an inline ``indicator`` or an
``indicatorRef`` to a ``kind: SLI`` document of the same file. Converted: SLO name, description,
service, rolling ``timeWindow`` (30d/28d/4w/7d/1w), one objective (``target`` 0-1 or
``targetPercent``) and a Prometheus ``ratioMetric`` (good or bad over total; counters are wrapped
in ``sum(rate(...[window]))``), recognised as the native availability/latency SLI when it is one.
Reported by path, never silently dropped: ``thresholdMetric``/``rawType`` SLIs, non-Prometheus
sources, calendar windows, time-slice budgeting, extra objectives, ``alertPolicies``, other kinds
and unknown keys.
"""

from __future__ import annotations

from typing import Any

import yaml

from agentwatch.spec.imports import ImportResult, build_spec, unknown_keys
from agentwatch.spec.loader import Issue, Path_, SpecError, format_path, line_map
from agentwatch.spec.recognise import native_sli

__all__ = ["import_openslo"]

_WINDOWS = {"30d": "30d", "28d": "28d", "4w": "28d", "7d": "7d", "1w": "7d"}
_SLO_SPEC = {"description", "service", "indicator", "indicatorRef", "timeWindow", "budgetingMethod",
             "objectives"}


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


def _query(ratio: dict, key: str, path: Path_, dropped: list[str]) -> str | None:
    source = (ratio.get(key) or {}).get("metricSource") or {}
    if str(source.get("type", "")).lower() != "prometheus":
        dropped.append(f"{format_path((*path, key, 'metricSource', 'type'))}: only Prometheus sources convert")
        return None
    query = str((source.get("spec") or {}).get("query", "")).strip()
    if "{{" in query:
        return query
    if ratio.get("counter", True):
        return f"sum(rate({query}[{{{{.window}}}}]))"
    dropped.append(f"{format_path((*path, 'counter'))}: a non-counter ratio cannot be converted")
    return None


def _sli(sli_spec: dict, path: Path_, dropped: list[str]) -> dict | None:
    unknown_keys(sli_spec, {"ratioMetric", "description"}, path, dropped)
    ratio = sli_spec.get("ratioMetric")
    if not isinstance(ratio, dict) or "raw" in ratio:
        dropped.append(f"{format_path(path)}: only good/bad-over-total ratioMetric SLIs convert")
        return None
    rpath = (*path, "ratioMetric")
    unknown_keys(ratio, {"counter", "good", "bad", "total"}, rpath, dropped)
    total = _query(ratio, "total", rpath, dropped)
    which = "bad" if "bad" in ratio else "good"
    part = _query(ratio, which, rpath, dropped)
    if total is None or part is None:
        return None
    if which == "bad":
        return native_sli(part, total) or {"raw": {"bad": part, "total": total}}
    return {"raw": {"good": part, "total": total}}


def _slo(doc: dict, i: int, slis: dict[str, tuple[dict, Path_]], dropped: list[str]) -> dict | None:
    spec, path = doc.get("spec") or {}, (i, "spec")
    unknown_keys(spec, _SLO_SPEC, path, dropped)
    if "indicator" in spec:
        sli = _sli((spec["indicator"] or {}).get("spec") or {}, (*path, "indicator", "spec"), dropped)
    elif spec.get("indicatorRef") in slis:
        sli = _sli(*slis[spec["indicatorRef"]], dropped)
    else:
        dropped.append(f"{format_path((*path, 'indicatorRef'))}: no SLI named {spec.get('indicatorRef')!r}")
        return None
    if sli is None:
        dropped.append(f"{format_path((i,))}: SLO {doc.get('metadata', {}).get('name')!r} skipped")
        return None
    out: dict = {"name": (doc.get("metadata") or {}).get("name"), "sli": sli}
    if spec.get("description"):
        out["description"] = spec["description"]
    windows = spec.get("timeWindow") or [{"duration": "30d", "isRolling": True}]
    window = windows[0]
    if not window.get("isRolling", False) or window.get("duration") not in _WINDOWS:
        dropped.append(f"{format_path((*path, 'timeWindow', 0))}: only rolling 30d/28d/7d windows convert; "
                       "used 30d")
    else:
        out["window"] = _WINDOWS[window["duration"]]
    if spec.get("budgetingMethod", "Occurrences") != "Occurrences":
        dropped.append(f"{format_path((*path, 'budgetingMethod'))}: converted as Occurrences")
    objectives = spec.get("objectives") or [{}]
    for j in range(1, len(objectives)):
        dropped.append(f"{format_path((*path, 'objectives', j))}: only the first objective converts")
    first = objectives[0]
    unknown_keys(first, {"target", "targetPercent", "displayName"}, (*path, "objectives", 0), dropped)
    if "targetPercent" in first:
        out["objective"] = first["targetPercent"]
    elif "target" in first:
        out["objective"] = round(float(first["target"]) * 100, 10)
    return out


def import_openslo(text: str, file: str) -> ImportResult:
    docs, lines = _documents(text, file)
    dropped: list[str] = []
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
            converted = _slo(doc, i, slis, dropped)
            if converted is not None:
                origin[len(slos)] = (i,)
                slos.append(converted)
                services.append((doc.get("spec") or {}).get("service"))
        elif doc.get("kind") != "SLI":
            dropped.append(f"{format_path((i, 'kind'))}: kind {doc.get('kind')!r} has no agentwatch equivalent")
    for extra in sorted(set(services[1:]) - {services[0]} if services else ()):
        dropped.append(f"spec.service: {extra!r} differs from {services[0]!r}; one service per agentwatch spec")
    spec = {"version": "agentwatch/v1", "service": {"name": services[0] if services else None}, "slos": slos}
    return ImportResult(build_spec(spec, file, lines, origin), dropped)
