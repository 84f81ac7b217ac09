"""prometheus-adapter rules exposing the agent's per-pod metrics to the HPA (custom metrics API).

``adapter_rules`` returns the adapter's discovery rules (``pkg/config/config.go`` of
kubernetes-sigs/prometheus-adapter); ``render_metrics_query`` renders a rule's ``metricsQuery`` the
way the adapter does (``pkg/naming/metrics_query.go``), so tests can run the exact query the
adapter would send to Prometheus.

Usage::

    rule = adapter_rules(spec)[0]
    render_metrics_query(rule, namespace="prod", pods=["agent-a", "agent-b"])
    # 'sum by (pod) (agent_queue_length{namespace="prod",pod=~"agent-a|agent-b"})'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agentwatch import promql as q
from agentwatch.k8s.workload import settings
from agentwatch.spec.model import Spec
from agentwatch.telemetry import catalogue as c

__all__ = [
    "adapter_config",
    "adapter_config_map",
    "adapter_rules",
    "autoscaling_metrics",
    "go_quote",
    "render_metrics_query",
]

# The adapter's template fields, written with its `<<` `>>` delimiters.
SERIES, LABEL_MATCHERS, GROUP_BY = "<<.Series>>", "<<.LabelMatchers>>", "<<.GroupBy>>"


def autoscaling_metrics(spec: Spec) -> list[tuple[c.MetricDef, float]]:
    """The per-pod metrics the autoscaler follows, with their average-per-pod targets."""
    cfg = settings(spec)
    metrics = [(c.QUEUE_LENGTH, cfg.queue_length_target)]
    if cfg.inflight_target is not None:
        metrics.append((c.INFLIGHT_REQUESTS, cfg.inflight_target))
    return metrics


def adapter_rules(spec: Spec) -> list[dict[str, Any]]:
    """One rule per autoscaling metric; the API name is the catalogue name, unchanged."""
    extra = q.selector(**spec.service.selector)
    rules = []
    for metric, _target in autoscaling_metrics(spec):
        rules.append({
            "seriesQuery": q.series(metric.name, q.join_selectors(q.selector(namespace="!", pod="!"), extra)),
            "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
            "name": {"matches": f"^{re.escape(metric.name)}$", "as": metric.name},
            "metricsQuery": q.sum_by(q.series(SERIES, q.join_selectors(LABEL_MATCHERS, extra)), (GROUP_BY,)),
        })
    return rules


def adapter_config(spec: Spec) -> dict[str, Any]:
    """The adapter's whole ``config.yaml`` (only ``rules``: no external or resource rules)."""
    return {"rules": adapter_rules(spec)}


def adapter_config_map(spec: Spec, config_text: str) -> dict[str, Any]:
    """The ConfigMap the adapter reads ``config.yaml`` from (in the adapter's namespace)."""
    cfg = settings(spec)
    meta = {"name": cfg.adapter_config_map, "namespace": cfg.adapter_namespace,
            "labels": {"app.kubernetes.io/name": "prometheus-adapter", "app.kubernetes.io/managed-by": "agentwatch"}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"config.yaml": config_text}}


def go_quote(value: str) -> str:
    """Go's ``%q`` for the label values the adapter quotes (names of Kubernetes objects)."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x80 else f"\\u{ord(ch):04x}")
    return '"' + "".join(out) + '"'


def _label_for(rule: dict[str, Any], resource: str) -> str:
    overrides = rule["resources"]["overrides"]
    return next(label for label, target in overrides.items() if target["resource"] == resource)


def render_metrics_query(rule: dict[str, Any], namespace: str, pods: Sequence[str],
                         series: str | None = None) -> str:
    """The query the adapter sends for ``pods/<metric>`` of ``pods`` in ``namespace``.

    As ``metricsQuery.Build`` does: matchers are the namespace (``=``), then the pod label (``=``
    for one pod, ``=~`` with names joined by ``|`` for several); ``GroupBy`` is the pod label.
    Only the ``Series``, ``LabelMatchers`` and ``GroupBy`` fields are supported.
    """
    if not pods:
        raise ValueError("the adapter never builds a query for zero objects")
    pod_label = _label_for(rule, "pod")
    pod_matcher = (f"{pod_label}={go_quote(pods[0])}" if len(pods) == 1
                   else f"{pod_label}=~{go_quote('|'.join(pods))}")
    fields = {
        "Series": series or rule["seriesQuery"].split("{", 1)[0],
        "LabelMatchers": f"{_label_for(rule, 'namespace')}={go_quote(namespace)},{pod_matcher}",
        "GroupBy": pod_label,
    }

    def field(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fields:
            raise ValueError(f"template field {match.group(0)} is not supported here")
        return fields[name]

    rendered = re.sub(r"<<\s*\.(\w+)\s*>>", field, rule["metricsQuery"])
    if "<<" in rendered:
        raise ValueError(f"unsupported template action in {rule['metricsQuery']!r}")
    return rendered
