"""Import a Sloth ``prometheus/v1`` spec (github.com/slok/sloth, ``pkg/prometheus/api/v1``).

Mapping: ``service``/``labels`` → ``service``; each ``slos[]`` keeps name, objective, description
and labels; ``sli.events`` becomes the native availability or latency SLI when its queries are
exactly those (see ``recognise``), else a raw SLI; ``alerting`` maps name, labels, annotations and
``page_alert``/``ticket_alert`` (disable, labels, annotations). Not convertible, and reported:
``sli.raw`` (a precomputed ratio cannot be traffic-weighted), ``sli.plugin``, ``slo_plugins``,
``plugins``, alert ``for`` (agentwatch takes it from the window table) and unknown keys.

Usage::

    result = import_sloth(Path("sloth.yml").read_text(), "sloth.yml")
    result.spec, result.dropped
"""

from __future__ import annotations

from agentwatch.spec.imports import ImportResult, build_spec, unknown_keys
from agentwatch.spec.loader import Issue, Path_, SpecError, format_path, load_yaml
from agentwatch.spec.recognise import native_sli

__all__ = ["import_sloth"]

_SLO_KEYS = {"name", "objective", "description", "labels", "sli", "alerting"}
_ALERTING_KEYS = {"name", "labels", "annotations", "page_alert", "ticket_alert"}
_ALERT_KEYS = {"disable", "labels", "annotations"}


def _alerting(data: dict, path: Path_, dropped: list[str]) -> dict:
    unknown_keys(data, _ALERTING_KEYS, path, dropped)
    out: dict = {k: data[k] for k in ("name", "labels", "annotations") if data.get(k)}
    annotations = dict(out.get("annotations", {}))
    for key in ("runbook_url", "runbook"):
        if key in annotations:
            out["runbook_url"] = annotations.pop(key)
    if "annotations" in out:
        out["annotations"] = annotations
    for theirs, ours in (("page_alert", "page"), ("ticket_alert", "ticket")):
        alert = data.get(theirs) or {}
        unknown_keys(alert, _ALERT_KEYS, (*path, theirs), dropped)
        settings = {k: alert[k] for k in ("disable", "labels", "annotations") if alert.get(k)}
        if settings:
            out[ours] = settings
    return out


def _slo(data: dict, path: Path_, dropped: list[str]) -> dict | None:
    unknown_keys(data, _SLO_KEYS, path, dropped)
    sli = data.get("sli") or {}
    unknown_keys(sli, {"events"}, (*path, "sli"), dropped)
    events = sli.get("events")
    if not isinstance(events, dict):
        dropped.append(f"{format_path(path)}: whole SLO skipped, its SLI is not `events`")
        return None
    unknown_keys(events, {"error_query", "total_query"}, (*path, "sli", "events"), dropped)
    error, total = str(events.get("error_query", "")), str(events.get("total_query", ""))
    converted = native_sli(error, total) or {"raw": {"bad": error, "total": total}}
    out = {k: data[k] for k in ("name", "description", "objective", "labels") if k in data}
    out["sli"] = converted
    if data.get("alerting"):
        out["alerting"] = _alerting(data["alerting"], (*path, "alerting"), dropped)
    return out


def import_sloth(text: str, file: str) -> ImportResult:
    data, lines = load_yaml(text, file)
    if not isinstance(data, dict) or data.get("version") != "prometheus/v1":
        found = data.get("version") if isinstance(data, dict) else None
        raise SpecError([Issue(file, lines.get(("version",), 1), "version",
                               f"not a Sloth spec: version {found!r} (allowed: prometheus/v1)")])
    dropped: list[str] = []
    unknown_keys(data, {"version", "service", "labels", "slos"}, (), dropped)
    slos, origin = [], {}
    for i, slo in enumerate(data.get("slos") or []):
        converted = _slo(slo, ("slos", i), dropped)
        if converted is not None:
            origin[len(slos)] = ("slos", i)
            slos.append(converted)
    spec = {"version": "agentwatch/v1",
            "service": {"name": data.get("service"), **({"labels": data["labels"]} if data.get("labels") else {})},
            "slos": slos}
    return ImportResult(build_spec(spec, file, lines, origin), dropped)
