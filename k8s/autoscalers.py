"""The two autoscalers of the agent Deployment: an ``autoscaling/v2`` HPA or a KEDA ScaledObject.

Both follow the same smoothed signals (``adapter.signals``: queue length per pod, mean inference
time per pod, optionally requests in flight) with the same ``behavior``; an overlay applies
exactly one of them, never both (two controllers fighting over one Deployment's replicas).

KEDA's prometheus triggers run the adapter's own per-pod query for the whole namespace, summed:
with ``metricType: AverageValue`` the HPA KEDA creates divides that sum by the replica count,
which is the per-pod average the adapter's HPA sees. Every trigger carries
``metricType: AverageValue`` explicitly: KEDA 2.14-2.16 reject a ScaledObject with ``fallback``
when any trigger (the cron one included) leaves it unset (kedacore/keda#6538, fixed in 2.17).

Usage::

    hpa = horizontal_pod_autoscaler(spec)
    keda = scaled_object(spec)
    keda_queries(spec)    # the PromQL each KEDA prometheus trigger runs
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agentwatch import promql as q
from agentwatch.k8s.adapter import adapter_rules, render_namespace_query, signals
from agentwatch.k8s.workload import metadata, settings
from agentwatch.spec.model import ScalingPolicy, Spec

__all__ = ["behavior", "horizontal_pod_autoscaler", "keda_queries", "quantity", "quantity_text", "scaled_object"]

#: Every KEDA trigger states its metric type (see the module docstring).
KEDA_METRIC_TYPE = "AverageValue"


def quantity(value: float) -> str:
    """A Kubernetes quantity string: ``8.0`` → ``"8"``, ``0.5`` → ``"500m"``."""
    exact = Decimal(repr(value))
    if exact == exact.to_integral_value():
        return str(int(exact))
    return f"{int((exact * 1000).to_integral_value())}m"


def _policy(policy: ScalingPolicy) -> dict[str, Any]:
    policies = []
    if policy.percent is not None:
        policies.append({"type": "Percent", "value": policy.percent, "periodSeconds": policy.period_seconds})
    if policy.pods is not None:
        policies.append({"type": "Pods", "value": policy.pods, "periodSeconds": policy.period_seconds})
    return {"stabilizationWindowSeconds": policy.stabilization_window_seconds,
            "selectPolicy": policy.select_policy, "policies": policies}


def behavior(spec: Spec) -> dict[str, Any]:
    """Scale up fast (a short stabilisation), scale down slowly (a long one)."""
    cfg = settings(spec)
    return {"scaleUp": _policy(cfg.scale_up), "scaleDown": _policy(cfg.scale_down)}


def _target_ref(spec: Spec) -> dict[str, str]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.service.name}


def horizontal_pod_autoscaler(spec: Spec) -> dict[str, Any]:
    """HPA on Pods metrics served by prometheus-adapter (metric names = the adapter's names)."""
    cfg = settings(spec)
    metrics = [{"type": "Pods", "pods": {"metric": {"name": s.name},
                                         "target": {"type": "AverageValue", "averageValue": quantity(s.target)}}}
               for s in signals(spec)]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(spec),
        "spec": {"scaleTargetRef": _target_ref(spec), "minReplicas": cfg.min_replicas,
                 "maxReplicas": cfg.max_replicas, "metrics": metrics, "behavior": behavior(spec)},
    }


def keda_queries(spec: Spec) -> dict[str, str]:
    """Trigger name → PromQL: the sum over the namespace's pods of the adapter's per-pod query."""
    namespace = settings(spec).namespace
    return {s.trigger_name: q.sum_by(render_namespace_query(rule, namespace))
            for s, rule in zip(signals(spec), adapter_rules(spec), strict=True)}


def _cron(name: str, timezone: str, start: str, end: str, replicas: int) -> dict[str, Any]:
    return {"type": "cron", "name": name, "metricType": KEDA_METRIC_TYPE,
            "metadata": {"timezone": timezone, "start": start, "end": end, "desiredReplicas": str(replicas)}}


def scaled_object(spec: Spec) -> dict[str, Any]:
    """KEDA ScaledObject: prometheus triggers on the HPA's signals, fallback, the pre-warm cron."""
    cfg = settings(spec)
    keda = cfg.keda
    targets = {s.trigger_name: s.target for s in signals(spec)}
    triggers: list[dict[str, Any]] = [
        {"type": "prometheus", "name": name, "metricType": KEDA_METRIC_TYPE,
         # KEDA reads metadata as strings only: every value is quoted.
         "metadata": {"serverAddress": keda.server_address, "query": query,
                      "threshold": quantity_text(targets[name]),
                      # An empty result is an error, so the fallback applies instead of min replicas.
                      "ignoreNullValues": "false"}}
        for name, query in keda_queries(spec).items()
    ]
    if cfg.prewarm is not None:
        pre = cfg.prewarm
        triggers.append(_cron("prewarm", pre.timezone, pre.start_cron, pre.end_cron, pre.min_replicas))
    if keda.business_hours is not None:
        hours = keda.business_hours
        triggers.append(_cron("business-hours", hours.timezone, hours.start, hours.end, hours.desired_replicas))
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": metadata(spec),
        "spec": {
            "scaleTargetRef": _target_ref(spec),
            "pollingInterval": keda.polling_interval,
            "cooldownPeriod": keda.cooldown_period,
            "initialCooldownPeriod": keda.initial_cooldown_period,
            "minReplicaCount": cfg.min_replicas,
            "maxReplicaCount": cfg.max_replicas,
            "fallback": {"failureThreshold": keda.failure_threshold, "replicas": keda.fallback_replicas},
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior(spec)}},
            "triggers": triggers,
        },
    }


def quantity_text(value: float) -> str:
    """A threshold as KEDA parses it (a decimal number as text): ``8.0`` → ``"8"``, ``0.5`` → ``"0.5"``."""
    exact = Decimal(repr(value)).normalize()
    return format(exact, "f")
