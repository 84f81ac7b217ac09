"""``agentwatch generate k8s``: the spec → kustomize base and two autoscaling overlays.

Layout (paths relative to the repository root)::

    k8s/generated/base/               Deployment, Service, ServiceMonitor, PodDisruptionBudget, PrometheusRule
    k8s/generated/overlays/hpa/       base + autoscaling/v2 HPA + pre-warm CronJobs and their RBAC
    k8s/generated/overlays/keda/      base + KEDA ScaledObject (never together with the HPA)
    k8s/generated/prometheus-adapter/ the adapter rules as Helm values and as a kube-prometheus mixin

The PrometheusRule is the alerts generator's ``alerts/generated/prometheusrule.yaml``, byte for
byte. Pure: ``generate_all`` does no I/O; ``write_all`` writes its result.

Usage::

    from agentwatch.k8s import generate_all, write_all
    files = generate_all(load_spec("agentwatch.yaml"), "agentwatch.yaml")   # {path: text}
    write_all("agentwatch.yaml")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agentwatch.alerts import GENERATED_DIR
from agentwatch.alerts import generate_all as generate_alerts
from agentwatch.alerts.writers import dump_yaml, header
from agentwatch.artefacts import write_generated
from agentwatch.k8s.adapter import helm_values, kube_prometheus_jsonnet
from agentwatch.k8s.autoscalers import horizontal_pod_autoscaler, scaled_object
from agentwatch.k8s.prewarm import prewarm_objects
from agentwatch.k8s.workload import deployment, pod_disruption_budget, service, service_monitor, settings
from agentwatch.spec import Spec

__all__ = ["ADAPTER_DIR", "BASE", "K8S_DIR", "OVERLAYS", "generate_all", "write_all"]

K8S_DIR = "k8s/generated"
BASE = f"{K8S_DIR}/base"
OVERLAYS = {"hpa": f"{K8S_DIR}/overlays/hpa", "keda": f"{K8S_DIR}/overlays/keda"}
ADAPTER_DIR = f"{K8S_DIR}/prometheus-adapter"
HELM_VALUES = f"{ADAPTER_DIR}/helm-values.yaml"
KUBE_PROMETHEUS_MIXIN = f"{ADAPTER_DIR}/agentwatch-adapter.libsonnet"
_PROMETHEUS_RULE = f"{GENERATED_DIR}/prometheusrule.yaml"


def _kustomization(source: str, resources: list[str], namespace: str | None = None,
                   patches: list[dict[str, Any]] | None = None) -> str:
    body: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if namespace:
        body["namespace"] = namespace
    body["resources"] = resources
    if patches:
        body["patches"] = patches
    return header(source) + dump_yaml(body)


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


def generate_all(spec: Spec, spec_path_label: str) -> dict[str, str]:
    """Every Kubernetes artefact of ``spec``, keyed by path relative to the repository root."""
    def obj(data: dict[str, Any]) -> str:
        return header(spec_path_label) + dump_yaml(data)

    cfg = settings(spec)
    rule_text = generate_alerts(spec, spec_path_label)[_PROMETHEUS_RULE]
    base = {
        "deployment.yaml": obj(deployment(spec)),
        "service.yaml": obj(service(spec)),
        "servicemonitor.yaml": obj(service_monitor(spec)),
        "poddisruptionbudget.yaml": obj(pod_disruption_budget(spec)),
        "prometheusrule.yaml": rule_text,
    }
    files = {f"{BASE}/{name}": text for name, text in base.items()}
    files[f"{BASE}/kustomization.yaml"] = _kustomization(spec_path_label, list(base), cfg.namespace,
                                                          _rule_labels_patch(spec, rule_text))
    hpa = {"horizontalpodautoscaler.yaml": obj(horizontal_pod_autoscaler(spec))}
    prewarm = prewarm_objects(spec)
    if prewarm:
        hpa["prewarm.yaml"] = header(spec_path_label) + "---\n".join(dump_yaml(o) for o in prewarm)
    keda = {"scaledobject.yaml": obj(scaled_object(spec))}
    for overlay, extra in (("hpa", hpa), ("keda", keda)):
        root = OVERLAYS[overlay]
        files.update({f"{root}/{name}": text for name, text in extra.items()})
        files[f"{root}/kustomization.yaml"] = _kustomization(
            spec_path_label, ["../../base", *extra], patches=[_hand_replicas_to_autoscaler(spec)])
    files[HELM_VALUES] = (header(spec_path_label) + "# prometheus-community/prometheus-adapter: "
                          "helm upgrade ... -f helm-values.yaml (k8s/README.md)\n" + dump_yaml(helm_values(spec)))
    files[KUBE_PROMETHEUS_MIXIN] = kube_prometheus_jsonnet(spec, header(spec_path_label))
    return dict(sorted(files.items()))


def write_all(spec_file: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Load ``spec_file`` and write ``generate_all`` under ``out_dir`` (default: the spec's folder)."""
    return write_generated(generate_all, spec_file, out_dir)
