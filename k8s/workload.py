"""The agent's workload objects: Deployment, Service, ServiceMonitor and PodDisruptionBudget.

Pure functions: a validated ``Spec`` in, plain dicts (one Kubernetes object each) out. Every
knob comes from the spec's ``autoscaling:`` section (defaults when it is absent).

Usage::

    from agentwatch.k8s.workload import deployment
    deployment(load_spec("agentwatch.yaml"))["spec"]["template"]["spec"]["containers"][0]["image"]
"""

from __future__ import annotations

import math
from typing import Any

from agentwatch.spec.model import Autoscaling, Spec

__all__ = [
    "CONTAINER",
    "PORT_NAME",
    "deployment",
    "labels",
    "metadata",
    "pod_disruption_budget",
    "selector_labels",
    "service",
    "service_monitor",
    "settings",
]

CONTAINER = "agent"
PORT_NAME = "http"
_UID = 10001  # any non-root id; the image must not need a named user
_STARTUP_PERIOD = 5


def settings(spec: Spec) -> Autoscaling:
    """The spec's ``autoscaling:`` section, or its defaults when the section is absent."""
    return spec.autoscaling or Autoscaling()


def selector_labels(spec: Spec) -> dict[str, str]:
    """The labels pods are selected by (never change them: selectors are immutable)."""
    return {"app.kubernetes.io/name": spec.service.name}


def labels(spec: Spec) -> dict[str, str]:
    return {**selector_labels(spec), "app.kubernetes.io/component": "agent",
            "app.kubernetes.io/managed-by": "agentwatch"}


def metadata(spec: Spec, name: str | None = None, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """``metadata`` of an object in the agent's namespace (``extra`` labels added)."""
    return {"name": name or spec.service.name, "namespace": settings(spec).namespace,
            "labels": {**labels(spec), **(extra or {})}}


def _http_probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": PORT_NAME}, "periodSeconds": period, "timeoutSeconds": 2,
            "failureThreshold": failures}


def _env(spec: Spec) -> list[dict[str, Any]]:
    cfg = settings(spec)
    env: list[dict[str, Any]] = [
        {"name": "REDIS_URL", "valueFrom": {"secretKeyRef": {"name": cfg.redis_secret, "key": cfg.redis_secret_key}}},
        # The telemetry library reads these into k8s.pod.name / k8s.namespace.name.
        {"name": "K8S_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "K8S_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "OTEL_SERVICE_NAME", "value": spec.dashboards.trace_service},
    ]
    if cfg.otlp_endpoint:
        env.append({"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": cfg.otlp_endpoint})
    # Tail sampling in the agent always keeps traces slower than the strictest latency SLO.
    env.append({"name": "AGENTWATCH_TRACES_SLOW_SECONDS", "value": f"{spec.slow_request_seconds():g}"})
    env += [
        {"name": "AGENT_TORCH_THREADS", "value": str(cfg.torch_threads)},
        # The model ships inside the image; never reach for a hub. HOME on the writable /tmp.
        {"name": "HF_HUB_OFFLINE", "value": "1"},
        {"name": "TRANSFORMERS_OFFLINE", "value": "1"},
        {"name": "HOME", "value": "/tmp"},
    ]
    return env


def _container(spec: Spec) -> dict[str, Any]:
    cfg = settings(spec)
    resources: dict[str, Any] = {"requests": dict(sorted(cfg.requests.items()))}
    if cfg.limits:
        resources["limits"] = dict(sorted(cfg.limits.items()))
    return {
        "name": CONTAINER,
        "image": cfg.image,
        "imagePullPolicy": cfg.image_pull_policy,
        "command": ["agentwatch"],
        "args": ["serve", "--host", "0.0.0.0", "--port", str(cfg.port)],
        "ports": [{"name": PORT_NAME, "containerPort": cfg.port, "protocol": "TCP"}],
        "env": _env(spec),
        "resources": resources,
        # Startup gates the other probes until the model is warm; its budget is the cold start.
        "startupProbe": _http_probe("/readyz", _STARTUP_PERIOD,
                                    math.ceil(cfg.startup_timeout_seconds / _STARTUP_PERIOD)),
        "livenessProbe": _http_probe("/healthz", 10, 3),
        "readinessProbe": _http_probe("/readyz", 5, 2),
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def deployment(spec: Spec) -> dict[str, Any]:
    """The agent Deployment; ``replicas`` is ``min_replicas`` (the overlays hand it to the autoscaler)."""
    cfg = settings(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec),
        "spec": {
            "replicas": cfg.min_replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector_labels(spec)},
            # A new pod takes a model load to become ready: add before removing.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels(spec)},
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": cfg.termination_grace_period_seconds,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": _UID, "runAsGroup": _UID,
                                        "fsGroup": _UID, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [_container(spec)],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "512Mi"}}],
                },
            },
        },
    }


def service(spec: Spec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec),
        "spec": {"type": "ClusterIP", "selector": selector_labels(spec),
                 "ports": [{"name": PORT_NAME, "port": 80, "targetPort": PORT_NAME, "protocol": "TCP"}]},
    }


def service_monitor(spec: Spec) -> dict[str, Any]:
    """Prometheus Operator scrape config; it adds the ``namespace`` and ``pod`` target labels."""
    cfg = settings(spec)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(spec, extra=cfg.monitor_labels),
        "spec": {
            "selector": {"matchLabels": selector_labels(spec)},
            "endpoints": [{"port": PORT_NAME, "path": "/metrics", "interval": cfg.scrape_interval}],
        },
    }


def pod_disruption_budget(spec: Spec) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(spec),
        "spec": {"maxUnavailable": settings(spec).pdb_max_unavailable,
                 "selector": {"matchLabels": selector_labels(spec)}},
    }
