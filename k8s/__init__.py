"""``agentwatch generate k8s``: the spec → kustomize base and two autoscaling overlays.

Layout (paths relative to the repository root)::

    k8s/generated/base/               Deployment, Service, ServiceMonitor, PodDisruptionBudget, PrometheusRule
    k8s/generated/overlays/hpa/       base + autoscaling/v2 HPA + pre-warm CronJobs and their RBAC
    k8s/generated/overlays/keda/      base + KEDA ScaledObject (never together with the HPA)
    k8s/generated/prometheus-adapter/ the adapter rules as Helm values and as a kube-prometheus mixin

The PrometheusRule is the alerts generator's ``alerts/generated/prometheusrule.yaml``, byte for
byte. The ``k8s`` family of ``agentwatch.families``: pure, no I/O.

Usage::

    from agentwatch.k8s import render
    files = render(load_spec("agentwatch.yaml"))   # {path: body}
"""

from __future__ import annotations

from typing import Any

import yaml

from agentwatch.alerts import PROMETHEUS_RULE
from agentwatch.alerts import render as render_alerts
from agentwatch.artefacts import dump_yaml, header
from agentwatch.k8s.adapter import helm_values, kube_prometheus_jsonnet
from agentwatch.k8s.autoscalers import horizontal_pod_autoscaler, scaled_object
from agentwatch.k8s.prewarm import prewarm_objects
from agentwatch.k8s.workload import deployment, pod_disruption_budget, service, service_monitor, settings
from agentwatch.spec import Spec

__all__ = ["ADAPTER_DIR", "BASE", "HELM_VALUES", "K8S_DIR", "KUBE_PROMETHEUS_MIXIN", "OVERLAYS", "render"]

K8S_DIR = "k8s/generated"
BASE = f"{K8S_DIR}/base"
OVERLAYS = {"hpa": f"{K8S_DIR}/overlays/hpa", "keda": f"{K8S_DIR}/overlays/keda"}
ADAPTER_DIR = f"{K8S_DIR}/prometheus-adapter"
HELM_VALUES = f"{ADAPTER_DIR}/helm-values.yaml"
KUBE_PROMETHEUS_MIXIN = f"{ADAPTER_DIR}/agentwatch-adapter.libsonnet"


def _kustomization(resources: list[str], namespace: str | None = None,
                   patches: list[dict[str, Any]] | None = None) -> str:
    body: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if namespace:
        body["namespace"] = namespace
    body["resources"] = resources
    if patches:
        body["patches"] = patches
    return dump_yaml(body)


def _hand_replicas_to_autoscaler(spec: Spec) -> dict[str, Any]:
    # Without this, every `kubectl apply` would reset the replicas the autoscaler chose.
    return {"target": {"group": "apps", "version": "v1", "kind": "Deployment", "name": spec.service.name},
            "patch": dump_yaml([{"op": "remove", "path": "/spec/replicas"}]).rstrip("\n")}


def _rule_labels_patch(spec: Spec, rule_text: str) -> list[dict[str, Any]]:
    """Add ``monitor_labels`` (the Prometheus' ruleSelector) to the alerts' PrometheusRule."""
    labels = settings(spec).monitor_labels
    if not labels:
        return []
    rule = yaml.safe_load(rule_text)
    name = rule["metadata"]["name"]
    patch = {"apiVersion": rule["apiVersion"], "kind": rule["kind"],
             "metadata": {"name": name, "labels": dict(labels)}}
    return [{"target": {"group": "monitoring.coreos.com", "version": "v1", "kind": "PrometheusRule", "name": name},
             "patch": dump_yaml(patch).rstrip("\n")}]


def render(spec: Spec) -> dict[str, str]:
    """Every Kubernetes artefact of ``spec``, keyed by path relative to the output root."""
    cfg = settings(spec)
    rule_text = render_alerts(spec)[PROMETHEUS_RULE]
    base = {
        "deployment.yaml": dump_yaml(deployment(spec)),
        "service.yaml": dump_yaml(service(spec)),
        "servicemonitor.yaml": dump_yaml(service_monitor(spec)),
        "poddisruptionbudget.yaml": dump_yaml(pod_disruption_budget(spec)),
        "prometheusrule.yaml": rule_text,
    }
    files = {f"{BASE}/{name}": text for name, text in base.items()}
    files[f"{BASE}/kustomization.yaml"] = _kustomization(list(base), cfg.namespace,
                                                          _rule_labels_patch(spec, rule_text))
    hpa = {"horizontalpodautoscaler.yaml": dump_yaml(horizontal_pod_autoscaler(spec))}
    prewarm = prewarm_objects(spec)
    if prewarm:
        hpa["prewarm.yaml"] = "---\n".join(dump_yaml(o) for o in prewarm)
    keda = {"scaledobject.yaml": dump_yaml(scaled_object(spec))}
    for overlay, extra in (("hpa", hpa), ("keda", keda)):
        root = OVERLAYS[overlay]
        files.update({f"{root}/{name}": text for name, text in extra.items()})
        files[f"{root}/kustomization.yaml"] = _kustomization(
            ["../../base", *extra], patches=[_hand_replicas_to_autoscaler(spec)])
    files[HELM_VALUES] = ("# prometheus-community/prometheus-adapter: helm upgrade ... -f helm-values.yaml "
                          "(k8s/README.md)\n" + dump_yaml(helm_values(spec)))
    # The family's stamp covers YAML only; jsonnet takes the same '#' comment.
    files[KUBE_PROMETHEUS_MIXIN] = kube_prometheus_jsonnet(spec, header(spec.source))
    return dict(sorted(files.items()))

