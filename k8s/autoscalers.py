"""The two autoscalers of the agent Deployment: an ``autoscaling/v2`` HPA or a KEDA ScaledObject.

Both follow the same signals (``autoscaling_metrics``: queue length per pod, optionally requests
in flight per pod) with the same ``behavior``; an overlay applies exactly one of them, never both
(two controllers fighting over one Deployment's replicas).

Usage::

    hpa = horizontal_pod_autoscaler(spec)
    keda = scaled_object(spec)
    keda_queries(spec)    # the PromQL each KEDA prometheus trigger runs
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agentwatch import promql as q
from agentwatch.k8s.adapter import autoscaling_metrics
from agentwatch.k8s.workload import metadata, settings
from agentwatch.spec.model import ScalingPolicy, Spec

__all__ = ["behavior", "horizontal_pod_autoscaler", "keda_queries", "quantity", "quantity_text", "scaled_object"]


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
    """Scale up fast (no stabilisation), scale down slowly (a stabilisation window)."""
    cfg = settings(spec)
    return {"scaleUp": _policy(cfg.scale_up), "scaleDown": _policy(cfg.scale_down)}


def _target_ref(spec: Spec) -> dict[str, str]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.service.name}


def horizontal_pod_autoscaler(spec: Spec) -> dict[str, Any]:
    """HPA on Pods metrics served by prometheus-adapter (metric names = the adapter's names)."""
    cfg = settings(spec)
    metrics = [{"type": "Pods", "pods": {"metric": {"name": metric.name},
                                         "target": {"type": "AverageValue", "averageValue": quantity(target)}}}
               for metric, target in autoscaling_metrics(spec)]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(spec),
        "spec": {"scaleTargetRef": _target_ref(spec), "minReplicas": cfg.min_replicas,
                 "maxReplicas": cfg.max_replicas, "metrics": metrics, "behavior": behavior(spec)},
    }


def keda_queries(spec: Spec) -> dict[str, str]:
    """Trigger name → PromQL summing the metric over the Deployment's namespace.

    KEDA divides the sum by the replica count (``AverageValue``), which gives the same per-pod
    average the HPA reads through the adapter.
    """
    cfg = settings(spec)
    sel = q.join_selectors(q.selector(namespace=cfg.namespace), q.selector(**spec.service.selector))
    return {metric.name.replace("_", "-"): q.sum_by(q.series(metric.name, sel))
            for metric, _target in autoscaling_metrics(spec)}


def scaled_object(spec: Spec) -> dict[str, Any]:
    """KEDA ScaledObject: prometheus triggers on the HPA's signals, fallback, optional business hours."""
    cfg = settings(spec)
    keda = cfg.keda
    targets = {metric.name.replace("_", "-"): target for metric, target in autoscaling_metrics(spec)}
    triggers: list[dict[str, Any]] = [
        {"type": "prometheus", "name": name, "metricType": "AverageValue",
         # KEDA reads metadata as strings only: every value is quoted.
         "metadata": {"serverAddress": keda.server_address, "query": query,
                      "threshold": quantity_text(targets[name]),
                      # An empty result is an error, so the fallback applies instead of min replicas.
                      "ignoreNullValues": "false"}}
        for name, query in keda_queries(spec).items()
    ]
    if keda.business_hours is not None:
        hours = keda.business_hours
        triggers.append({"type": "cron", "name": "business-hours",
                         "metadata": {"timezone": hours.timezone, "start": hours.start, "end": hours.end,
                                      "desiredReplicas": str(hours.desired_replicas)}})
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
