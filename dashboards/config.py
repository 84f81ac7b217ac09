"""What the dashboards take from the spec, with defaults when there is no spec.

The dashboards read almost everything at view time through template variables (jobs, instances,
SLOs come from Prometheus), so the spec only sets defaults and thresholds: the service name (the
``sloth_service`` label and the traces' ``service.name``), the SLO names, the latency-SLO
threshold and the HPA's queue-length target. ``from_spec`` is duck-typed on purpose: it accepts
the ``agentwatch.spec`` model, a plain mapping, or ``None``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    slo_names: tuple[str, ...] = ()
    latency_threshold_seconds: float = 0.5
    queue_length_target: float = 8.0
    source: str = "defaults"


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _service_name(spec: Any) -> str | None:
    service = _get(spec, "service")
    if isinstance(service, str):
        return service
    return _get(service, "name")


def _latency_threshold(slos: list[Any]) -> float | None:
    for slo in slos:
        for field in ("threshold_seconds", "threshold", "latency_threshold_seconds"):
            value = _get(slo, field) or _get(_get(slo, "sli"), field)
            if isinstance(value, int | float) and value > 0:
                return float(value)
    return None


def from_spec(spec: Any = None, source: str = "agentwatch.yaml") -> DashboardConfig:
    """Build the config from a spec (model or mapping); ``None`` gives the defaults."""
    if spec is None:
        return DashboardConfig()
    defaults = DashboardConfig()
    slos = list(_get(spec, "slos", None) or [])
    names = tuple(str(n) for n in (_get(s, "name") for s in slos) if n)
    autoscaling = _get(spec, "autoscaling")
    target = _get(autoscaling, "queue_length_target") or _get(autoscaling, "queue_length_per_pod")
    return DashboardConfig(
        service=_service_name(spec) or defaults.service,
        slo_names=names,
        latency_threshold_seconds=_latency_threshold(slos) or defaults.latency_threshold_seconds,
        queue_length_target=float(target) if isinstance(target, int | float) else defaults.queue_length_target,
        source=source,
    )
