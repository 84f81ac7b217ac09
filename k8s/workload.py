"""The agent's workload objects: Deployment, Service, ServiceMonitor and PodDisruptionBudget.

Pure functions: a validated ``Spec`` in, plain dicts (one Kubernetes object each) out. Every
knob comes from the spec's ``autoscaling:`` section (defaults when it is absent): image, command
and args (the reference agent's ``agentwatch serve`` unless ``command`` is set), port, probe paths,
environment and resources.

Usage::

    from agentwatch.k8s.workload import deployment
    deployment(load_spec("agentwatch.yaml"))["spec"]["template"]["spec"]["containers"][0]["image"]
"""

from __future__ import annotations

import math
from typing import Any

from agentwatch.durations import parse_duration
from agentwatch.spec.model import Autoscaling, Spec

__all__ = [
    "CONTAINER",
    "DRAIN_SECONDS",
    "LIVENESS_PATH",
    "PORT_NAME",
    "READINESS_PATH",
    "STARTUP_PATH",
    "deployment",
    "image_tag",
    "labels",
    "metadata",
    "pod_disruption_budget",
    "selector_labels",
    "service",
    "service_monitor",
    "settings",
    "shutdown_budget",
]

CONTAINER = "agent"
PORT_NAME = "http"
_UID = 10001  # any non-root id; the image must not need a named user
_STARTUP_PERIOD = 5
#: The agent's probes (issue 13 "probes and readiness, decided once"): the startup probe waits for
#: the model only, so a Redis outage during a rollout or scale-up never kills a starting pod;
#: readiness gates traffic (model warm, not draining); liveness fails only after a failed load.
STARTUP_PATH = "/startupz"
READINESS_PATH = "/readyz"
LIVENESS_PATH = "/healthz"

#: Seconds a terminating pod keeps serving after SIGTERM while its removal from the Service's
#: endpoints reaches every proxy (the agent's AGENT_DRAIN_SECONDS).
DRAIN_SECONDS = 5


def shutdown_budget(grace_seconds: int) -> tuple[int, int]:
    """``(drain, shutdown)`` seconds that fit in ``terminationGracePeriodSeconds`` with a margin:
    the agent drains, then finishes in-flight work, and exits before the kubelet's SIGKILL."""
    drain = min(DRAIN_SECONDS, grace_seconds // 3)
    margin = max(1, grace_seconds // 6)
    return drain, max(1, grace_seconds - drain - margin)


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


def image_tag(image: str) -> str | None:
    """``repo/name:tag`` → ``tag``; ``None`` for an untagged or digest-only image."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else None


def _http_probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": PORT_NAME}, "periodSeconds": period, "timeoutSeconds": 2,
            "failureThreshold": failures}


def _env(spec: Spec) -> list[dict[str, Any]]:
    cfg = settings(spec)
    env: list[dict[str, Any]] = []
    if cfg.redis_secret:
        env.append({"name": "REDIS_URL",
                    "valueFrom": {"secretKeyRef": {"name": cfg.redis_secret, "key": cfg.redis_secret_key}}})
    env += [
        # The telemetry library reads these into k8s.pod.name / k8s.namespace.name.
        {"name": "K8S_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "K8S_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "OTEL_SERVICE_NAME", "value": spec.dashboards.trace_service},
    ]
    if cfg.command is None:  # the reference agent: idle conversations end (timed_out), so KPIs count each one
        idle = parse_duration(spec.conversations.idle_timeout)
        env.append({"name": "AGENT_IDLE_TIMEOUT_SECONDS", "value": str(idle)})
    tag = image_tag(cfg.image)
    if tag:  # the version on agent_build_info and the traces: releases side by side, canary analysis
        env.append({"name": "AGENT_VERSION", "value": tag})
    if cfg.otlp_endpoint:
        env.append({"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": cfg.otlp_endpoint})
    # Tail sampling in the agent always keeps traces slower than the strictest latency SLO.
    env.append({"name": "AGENTWATCH_TRACES_SLOW_SECONDS", "value": f"{spec.slow_request_seconds():g}"})
    if cfg.command is None:  # the reference agent
        drain, shutdown = shutdown_budget(cfg.termination_grace_period_seconds)
        env += [
            {"name": "AGENT_TORCH_THREADS", "value": str(cfg.torch_threads)},
            # SIGTERM: readiness fails, serving goes on for the drain, then in-flight work gets the
            # shutdown timeout; both fit in terminationGracePeriodSeconds.
            {"name": "AGENT_DRAIN_SECONDS", "value": str(drain)},
            {"name": "AGENT_SHUTDOWN_TIMEOUT_SECONDS", "value": str(shutdown)},
            # The model ships inside the image; never reach for a hub.
            {"name": "HF_HUB_OFFLINE", "value": "1"},
            {"name": "TRANSFORMERS_OFFLINE", "value": "1"},
        ]
    env.append({"name": "HOME", "value": "/tmp"})  # the root filesystem is read-only
    own = [{"name": name, "value": value} for name, value in cfg.env.items()]
    return [e for e in env if e["name"] not in cfg.env] + own


def _probes(spec: Spec) -> dict[str, Any]:
    cfg = settings(spec)
    startup = cfg.probes.startup
    if cfg.command is None and startup == "/readyz":
        # The reference agent's startup check is the model alone (/startupz); /readyz also fails
        # while draining. Readiness: warm and not draining, Redis reported but not required (a
        # shared Redis would take every pod out at once). Liveness: a failed model load. README.
        startup = "/startupz"
    # Startup gates the other probes until the app is ready once; its budget is the cold start.
    probes = {"startupProbe": (startup, _STARTUP_PERIOD, math.ceil(cfg.startup_timeout_seconds / _STARTUP_PERIOD)),
              "livenessProbe": (cfg.probes.liveness, 10, 3),
              "readinessProbe": (cfg.probes.readiness, 5, 2)}
    return {key: _http_probe(path, period, failures) for key, (path, period, failures) in probes.items() if path}


def _container(spec: Spec) -> dict[str, Any]:
    cfg = settings(spec)
    resources: dict[str, Any] = {"requests": dict(sorted(cfg.requests.items()))}
    if cfg.limits:
        resources["limits"] = dict(sorted(cfg.limits.items()))
    if cfg.command is None:  # the reference agent
        command, args = ["agentwatch"], ["serve", "--host", "0.0.0.0", "--port", str(cfg.port)]
    else:
        command, args = list(cfg.command), list(cfg.args)
    return {
        "name": CONTAINER,
        "image": cfg.image,
        "imagePullPolicy": cfg.image_pull_policy,
        "command": command,
        **({"args": args} if args else {}),
        "ports": [{"name": PORT_NAME, "containerPort": cfg.port, "protocol": "TCP"}],
        "env": _env(spec),
        "resources": resources,
        **_probes(spec),
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
