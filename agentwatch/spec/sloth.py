"""Import a Sloth ``prometheus/v1`` spec (github.com/slok/sloth, ``pkg/prometheus/api/v1``).

Mapping: ``service``/``labels`` → ``service``; each ``slos[]`` keeps name, objective, description
and labels. SLIs:

* ``events`` → the native availability or latency SLI when its queries are exactly those
  (``recognise``), else a raw events SLI (bad over total, traffic-weighted);
* ``raw.error_ratio_query`` → a raw ``error_ratio`` SLI. A ratio cannot be weighted by traffic, so
  its SLO-period ratio falls back to Sloth's mean of 5m ratios (the generated rule says so);
* ``plugin`` → the common plugins of ``sloth_plugins`` as events SLIs; any other plugin skips
  its SLO, reported.

``alerting`` maps name, labels, annotations and ``page_alert``/``ticket_alert`` (``disable``,
labels, annotations). Reported, never silently dropped, each with its reason: alert ``for`` and
the ``alert_for`` plugin (agentwatch takes ``for`` from its window table), ``slo_plugins``/``plugins``,
``interval``, ``infoLabels``, a ``severity`` label (agentwatch routes on its own), unknown keys.

Usage::

    result = import_sloth(Path("sloth.yml").read_text(), "sloth.yml")
    result.spec, result.skipped
"""

from __future__ import annotations

from agentwatch.spec.imports import ImportResult, Skipped, build_spec, unknown_keys
from agentwatch.spec.loader import Issue, Path_, SpecError, load_yaml
from agentwatch.spec.model import RESERVED_ALERT_LABELS
from agentwatch.spec.recognise import native_sli
from agentwatch.spec.sloth_plugins import PluginError, plugin_events

__all__ = ["import_sloth"]

_FOR = "agentwatch takes each alert's `for` from its window table (alerts/windows/<period>.yaml)"
_PLUGINS = "Sloth SLO plugins are Go code run by Sloth; agentwatch has no plugin chain"
#: Reasons for Sloth fields that exist but have no agentwatch equivalent.
_REASONS = {
    "slo_plugins": _PLUGINS + " (alert_for: " + _FOR + ")",
    "plugins": _PLUGINS,
    "for": _FOR,
    "interval": "agentwatch rule groups use Prometheus' global evaluation interval",
    "infoLabels": "sloth_slo_info carries the SLO's own labels; extra info labels have no equivalent",
}
_SLO_KEYS = {"name", "objective", "description", "labels", "sli", "alerting"}
_ALERTING_KEYS = {"name", "labels", "annotations", "page_alert", "ticket_alert"}
_ALERT_KEYS = {"disable", "labels", "annotations"}


def _labels(labels: dict, path: Path_, skipped: list[Skipped]) -> dict:
    """Alert labels without those agentwatch sets itself (its routing reads ``severity``)."""
    kept = {}
    for key, value in (labels or {}).items():
        if key in RESERVED_ALERT_LABELS:
            skipped.append(Skipped((*path, key), f"agentwatch sets `{key}` itself (severity is page or ticket "
                                                 f"for its Alertmanager routing); {value!r} is not kept"))
        else:
            kept[key] = value
    return kept


def _alerting(data: dict, path: Path_, skipped: list[Skipped]) -> dict:
    unknown_keys(data, _ALERTING_KEYS, path, skipped, _REASONS)
    out: dict = {k: data[k] for k in ("name", "annotations") if data.get(k)}
    if data.get("labels"):
        out["labels"] = _labels(data["labels"], (*path, "labels"), skipped)
    annotations = dict(out.get("annotations", {}))
    for key in ("runbook_url", "runbook"):
        if key in annotations:
            out["runbook_url"] = annotations.pop(key)
    if "annotations" in out:
        out["annotations"] = annotations
    for theirs, ours in (("page_alert", "page"), ("ticket_alert", "ticket")):
        alert = data.get(theirs) or {}
        unknown_keys(alert, _ALERT_KEYS, (*path, theirs), skipped, _REASONS)
        settings = {k: alert[k] for k in ("disable", "annotations") if alert.get(k)}
        if alert.get("labels"):
            settings["labels"] = _labels(alert["labels"], (*path, theirs, "labels"), skipped)
        if settings:
            out[ours] = settings
    return out


def _sli(sli: dict, path: Path_, skipped: list[Skipped]) -> dict | None:
    """The agentwatch SLI of a Sloth SLI, or ``None`` (the reason recorded) when it cannot convert."""
    unknown_keys(sli, {"events", "raw", "plugin"}, path, skipped, _REASONS)
    if isinstance(sli.get("events"), dict):
        events = sli["events"]
        unknown_keys(events, {"error_query", "total_query"}, (*path, "events"), skipped, _REASONS)
        error, total = str(events.get("error_query", "")), str(events.get("total_query", ""))
        return native_sli(error, total) or {"raw": {"bad": error, "total": total}}
    if isinstance(sli.get("raw"), dict):
        raw = sli["raw"]
        # prometheus/v1 spells it error_ratio_query; Sloth's Kubernetes CRD (and some examples) errorRatioQuery.
        unknown_keys(raw, {"error_ratio_query", "errorRatioQuery"}, (*path, "raw"), skipped, _REASONS)
        query = raw.get("error_ratio_query", raw.get("errorRatioQuery"))
        return {"raw": {"error_ratio": str(query or "")}}
    if isinstance(sli.get("plugin"), dict):
        plugin = sli["plugin"]
        unknown_keys(plugin, {"id", "options"}, (*path, "plugin"), skipped, _REASONS)
        try:
            bad, total = plugin_events(str(plugin.get("id", "")), plugin.get("options"))
        except PluginError as exc:
            skipped.append(Skipped((*path, "plugin"), f"whole SLO skipped: {exc}"))
            return None
        return {"raw": {"bad": bad, "total": total}}
    skipped.append(Skipped(path, "whole SLO skipped: its SLI is none of events, raw, plugin"))
    return None


def _slo(data: dict, path: Path_, skipped: list[Skipped]) -> dict | None:
    unknown_keys(data, _SLO_KEYS, path, skipped, _REASONS)
    converted = _sli(data.get("sli") or {}, (*path, "sli"), skipped)
    if converted is None:
        return None
    out = {k: data[k] for k in ("name", "description", "objective", "labels") if k in data}
    out["sli"] = converted
    if data.get("alerting"):
        out["alerting"] = _alerting(data["alerting"], (*path, "alerting"), skipped)
    return out


def import_sloth(text: str, file: str) -> ImportResult:
    data, lines = load_yaml(text, file)
    if not isinstance(data, dict) or data.get("version") != "prometheus/v1":
        found = data.get("version") if isinstance(data, dict) else None
        raise SpecError([Issue(file, lines.get(("version",), 1), "version",
                               f"not a Sloth spec: version {found!r} (allowed: prometheus/v1)")])
    skipped: list[Skipped] = []
    unknown_keys(data, {"version", "service", "labels", "slos"}, (), skipped, _REASONS)
    slos, origin = [], {}
    for i, slo in enumerate(data.get("slos") or []):
        converted = _slo(slo, ("slos", i), skipped)
        if converted is not None:
            origin[len(slos)] = ("slos", i)
            slos.append(converted)
    spec = {"version": "agentwatch/v1",
            "service": {"name": data.get("service"), **({"labels": data["labels"]} if data.get("labels") else {})},
            "slos": slos}
    return ImportResult(build_spec(spec, file, lines, origin), skipped, lines)
