"""Pre-warm for the plain-HPA overlay: raise the HPA's ``minReplicas`` before a known peak.

Two CronJobs patch the HPA (``kubectl patch``) through a ServiceAccount whose Role may only get
and patch that one HPA: ``<name>-prewarm-raise`` at ``prewarm.start_cron`` (the peak minus the
lead, which the spec checks is at least the measured cold start) sets ``prewarm.min_replicas``;
``<name>-prewarm-restore`` at ``prewarm.end_cron`` sets ``autoscaling.min_replicas`` back, after
which the HPA scales down at its own pace (its scale-down window and policies). Both run in the
spec's time zone (``CronJob.spec.timeZone``). The KEDA overlay does the same with a cron trigger.

Usage::

    objects = prewarm_objects(spec)     # [] when the spec has no prewarm section
"""

from __future__ import annotations

import json
from typing import Any

from agentwatch.k8s.workload import metadata, settings
from agentwatch.spec.model import Spec

__all__ = ["prewarm_objects"]

_UID = 65532  # the kubectl image's non-root user


def _name(spec: Spec, suffix: str = "") -> str:
    return f"{spec.service.name}-prewarm{suffix}"


def _rbac(spec: Spec) -> list[dict[str, Any]]:
    name = _name(spec)
    extra = {"app.kubernetes.io/component": "prewarm"}
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(spec, name, extra)}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata(spec, name, extra),
            "rules": [{"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"],
                       "resourceNames": [spec.service.name], "verbs": ["get", "patch"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": metadata(spec, name, extra),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
               "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": settings(spec).namespace}]}
    return [account, role, binding]


def _cron_job(spec: Spec, suffix: str, schedule: str, min_replicas: int) -> dict[str, Any]:
    cfg = settings(spec)
    pre = cfg.prewarm
    assert pre is not None
    patch = json.dumps({"spec": {"minReplicas": min_replicas}}, separators=(",", ":"))
    container = {
        "name": "kubectl",
        "image": pre.kubectl_image,
        # The image's entrypoint is kubectl.
        "args": ["patch", "horizontalpodautoscaler", spec.service.name, "--namespace", cfg.namespace,
                 "--type=merge", f"--patch={patch}"],
        "env": [{"name": "HOME", "value": "/tmp"}],
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod = {
        "serviceAccountName": _name(spec),
        "restartPolicy": "OnFailure",
        "securityContext": {"runAsNonRoot": True, "runAsUser": _UID, "runAsGroup": _UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(spec, _name(spec, suffix), {"app.kubernetes.io/component": "prewarm"}),
        "spec": {
            "schedule": schedule,
            "timeZone": pre.timezone,
            "concurrencyPolicy": "Forbid",
            # A run missed by more than 5 minutes is skipped; the next day's runs are unaffected.
            "startingDeadlineSeconds": 300,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": {"backoffLimit": 3, "activeDeadlineSeconds": 240,
                                     "ttlSecondsAfterFinished": 86400,
                                     "template": {"metadata": {"labels": {"app.kubernetes.io/component": "prewarm"}},
                                                  "spec": pod}}},
        },
    }


def prewarm_objects(spec: Spec) -> list[dict[str, Any]]:
    """ServiceAccount, Role, RoleBinding and the raise/restore CronJobs (none without ``prewarm``)."""
    cfg = settings(spec)
    if cfg.prewarm is None:
        return []
    return [*_rbac(spec), _cron_job(spec, "-raise", cfg.prewarm.start_cron, cfg.prewarm.min_replicas),
            _cron_job(spec, "-restore", cfg.prewarm.end_cron, cfg.min_replicas)]
