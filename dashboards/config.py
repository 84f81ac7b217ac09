"""What the dashboards take from the spec, with defaults when there is no spec.

The dashboards read almost everything at view time through template variables (jobs, instances,
SLOs come from Prometheus), so the spec only narrows and tunes them: the service selector, the
latency-SLO threshold, the traces' service name and the HPA's queue-length target. ``from_spec``
reads attributes or mapping keys alike, so it also takes a plain dict, or ``None`` for defaults.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentwatch.telemetry import catalogue as c

__all__ = [
    "DASHBOARD_FILES",
    "JAEGER_UID",
    "PROMETHEUS_UID",
    "SCHEMA_VERSION",
    "TAG",
    "DashboardConfig",
    "dashboard_uid",
    "from_spec",
]

#: Grafana dashboard JSON schema version the generated JSON follows (Grafana 10.4 / 11).
SCHEMA_VERSION = 39
#: Every agentwatch dashboard carries this tag; the dashboard links select on it.
TAG = "agentwatch"
#: Datasource uids the provisioning YAML creates; the importable form asks for them instead.
PROMETHEUS_UID = "prometheus"
JAEGER_UID = "jaeger"

#: Dashboard file stem → title. The stem is hashed into the uid, so uids never change.
DASHBOARD_FILES: Mapping[str, str] = {
    "agentwatch-overview": "agentwatch / Agent overview",
    "agentwatch-slos": "agentwatch / SLOs and error budget",
    "agentwatch-kpis": "agentwatch / Business KPIs",
    "agentwatch-capacity": "agentwatch / Capacity and autoscaling",
}


def dashboard_uid(stem: str) -> str:
    """Stable uid: the md5 of the file stem (kubernetes-mixin's ``grafanaDashboardIDs`` habit)."""
    return hashlib.md5(f"{stem}.json".encode()).hexdigest()


@dataclass(frozen=True)
class DashboardConfig:
    """Inputs of the dashboard generators."""

    service: str = "agentwatch-agent"
    #: ``service.name`` the agent's traces carry (the telemetry default unless OTEL_SERVICE_NAME is set).
    trace_service: str = "agentwatch-agent"
    #: The spec's ``service.selector`` (e.g. ``{job: agent}``): narrows the job/instance variables.
    selector: Mapping[str, str] = field(default_factory=dict)
    slo_names: tuple[str, ...] = ()
    latency_threshold_seconds: float = 1.0
    queue_length_target: float = 8.0
    #: ``releases.window`` / ``kpi_window``: the by-version recordings the release row reads.
    release_window: str = "10m"
    release_kpi_window: str = "1h"
    #: Metric groups the service emits (``catalogue.METRIC_GROUPS``); panels on others are left out.
    emitted: frozenset[str] = frozenset(c.METRIC_GROUPS)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def from_spec(spec: Any = None) -> DashboardConfig:
    """Build the config from an ``agentwatch.spec.Spec`` (or an equivalent mapping); ``None``: defaults.

    Read: ``service.name``/``selector``, SLO names, the first latency SLI's ``threshold``, the
    optional ``dashboards: {trace_service}``, ``autoscaling: {queue_length_target}`` and
    ``releases: {window, kpi_window}`` keys, and ``application: {metrics}`` (every group without an
    ``application`` section: the reference agent).
    """
    defaults = DashboardConfig()
    if spec is None:
        return defaults
    service = _get(spec, "service")
    slos = tuple(_get(spec, "slos", ()) or ())
    latency = [_get(_get(_get(s, "sli"), "latency"), "threshold") for s in slos]
    threshold = next((float(t) for t in latency if isinstance(t, int | float)), None)
    target = _get(_get(spec, "autoscaling"), "queue_length_target")
    application = _get(spec, "application")
    emitted = frozenset(_get(application, "metrics", ("http",))) if application is not None else defaults.emitted
    releases = _get(spec, "releases")
    return DashboardConfig(
        service=_get(service, "name") or defaults.service,
        trace_service=_get(_get(spec, "dashboards"), "trace_service") or defaults.trace_service,
        selector=dict(_get(service, "selector") or {}),
        slo_names=tuple(str(_get(s, "name")) for s in slos),
        latency_threshold_seconds=threshold or defaults.latency_threshold_seconds,
        queue_length_target=float(target) if isinstance(target, int | float) else defaults.queue_length_target,
        release_window=_get(releases, "window") or defaults.release_window,
        release_kpi_window=_get(releases, "kpi_window") or defaults.release_kpi_window,
        emitted=emitted,
    )
