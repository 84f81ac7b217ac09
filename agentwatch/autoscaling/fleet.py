"""The lab's stand-in for a Deployment's pods: real agent processes, probed, scraped and routed to.

Each pod is a real ``agentwatch serve`` (:class:`~agentwatch.local.processes.AgentProcess`) on a
free port, started in a thread so its cold start (imports, model load, warm-up) runs while the
lab goes on. What Kubernetes does around pods is done here the same way:

- *scraping*: a pod is a Prometheus target (``file_sd``, labelled ``namespace`` and ``pod`` as the
  Prometheus Operator labels them) from its creation until its process exits, ready or not;
- *kubelet*: ``/readyz`` is probed every ``probe_period_s`` with the Deployment's readinessProbe
  timeout and failure threshold (one success makes a pod ready, ``failure_threshold`` failures in a
  row unready); the Ready condition and its last transition time are what the HPA controller reads;
- *endpoints*: the router gets the ready set after each probe round; a pod being deleted leaves
  it first, then gets SIGTERM (the agent drains and exits), then leaves the scrape targets.

Usage::

    fleet = Fleet(env, router_url, targets_file, namespace="lab", probe_period_s=5)
    fleet.scale_to(3, now)      # spawns or deletes pods
    await fleet.probe_once()    # kubelet + endpoints controller
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agentwatch.autoscaling.hpa import Pod
from agentwatch.autoscaling.router import ENDPOINTS_PATH
from agentwatch.k8s.workload import READINESS_PATH
from agentwatch.local.processes import AgentProcess, ServiceError

__all__ = ["Fleet", "LabPod"]


@dataclass
class LabPod:
    """One agent process and what the cluster knows of it (wall-clock times)."""

    name: str
    agent: AgentProcess
    created: float
    ready: bool = False
    transition: float = 0.0
    first_ready: float | None = None
    deleting: bool = False
    failures: int = 0
    failed: bool = False
    gone: bool = False
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.agent.port}"

    def as_pod(self, requests: Mapping[str, int]) -> Pod:
        phase = "Failed" if self.failed else ("Running" if self.agent.process is not None else "Pending")
        return Pod(self.name, phase, self.ready, self.created, self.transition, self.deleting, dict(requests))


class Fleet:
    """The pods of one lab run. Not thread-safe: drive it from one asyncio task."""

    def __init__(self, env: Mapping[str, str], router_url: str, targets_file: Path, *, namespace: str,
                 prefix: str = "support-agent-lab", probe_period_s: float = 5.0, probe_timeout_s: float = 2.0,
                 failure_threshold: int = 2, start_timeout_s: float = 240.0) -> None:
        self.env, self.router_url, self.targets_file = dict(env), router_url.rstrip("/"), targets_file
        self.namespace, self.prefix, self.probe_period_s = namespace, prefix, probe_period_s
        self.probe_timeout_s, self.failure_threshold = probe_timeout_s, failure_threshold
        self.start_timeout_s = start_timeout_s
        self.pods: list[LabPod] = []
        self._names = (f"{prefix}-{i}" for i in itertools.count())
        self._endpoints: list[str] = []
        self._write_targets()

    # --- the Deployment's replicas -----------------------------------------------------------

    @property
    def live(self) -> list[LabPod]:
        """Pods that count toward the replica count (not being deleted, not gone)."""
        return [p for p in self.pods if not p.deleting and not p.gone]

    def listed(self) -> list[LabPod]:
        """What the HPA's pod lister shows: every pod until its process is gone."""
        return [p for p in self.pods if not p.gone]

    def scale_to(self, replicas: int) -> None:
        live = self.live
        if replicas > len(live):
            for _ in range(replicas - len(live)):
                self._spawn()
        elif replicas < len(live):
            # The ReplicaSet's order: not-ready pods first, then the most recently ready.
            doomed = sorted(live, key=lambda p: (p.ready, -(p.first_ready or 0.0)))[:len(live) - replicas]
            for pod in doomed:
                self._delete(pod)

    def _spawn(self) -> None:
        pod = LabPod(next(self._names), AgentProcess(self.env), time.time())
        pod.transition = pod.created

        def start() -> None:
            try:
                pod.agent.start(timeout=self.start_timeout_s)
            except ServiceError:
                pod.failed = True

        pod.thread = threading.Thread(target=start, name=f"start-{pod.name}", daemon=True)
        self.pods.append(pod)
        self._write_targets()
        pod.thread.start()

    def _delete(self, pod: LabPod) -> None:
        pod.deleting = True

        def stop() -> None:
            if pod.thread is not None:
                pod.thread.join()  # a pod still starting is stopped once its start returns
            time.sleep(1.0)  # endpoint removal reaches the router before SIGTERM, as kube-proxy lags
            pod.agent.close()  # SIGTERM (the agent drains), SIGKILL after the grace period
            pod.gone = True

        threading.Thread(target=stop, name=f"stop-{pod.name}", daemon=True).start()

    # --- kubelet, endpoints controller, service discovery ------------------------------------

    async def probe_once(self, client: httpx.AsyncClient) -> None:
        """Probe every live pod's ``/readyz``; push the ready set to the router; refresh targets."""
        for pod in self.pods:
            if pod.gone or pod.deleting or pod.agent.process is None or pod.agent.process.poll() is not None:
                ready = False
            else:
                try:
                    ready = (await client.get(f"http://{pod.address}{READINESS_PATH}", timeout=2.0)).status_code == 200
                except httpx.HTTPError:
                    ready = False
            if ready != pod.ready:
                pod.ready, pod.transition = ready, time.time()
                if ready and pod.first_ready is None:
                    pod.first_ready = pod.transition
        endpoints = sorted(f"http://{p.address}" for p in self.pods if p.ready and not p.deleting and not p.gone)
        if endpoints != self._endpoints:
            await client.put(f"{self.router_url}{ENDPOINTS_PATH}", json={"endpoints": endpoints}, timeout=5.0)
            self._endpoints = endpoints
        self._write_targets()

    def _write_targets(self) -> None:
        groups = [{"targets": [p.address], "labels": {"namespace": self.namespace, "pod": p.name}}
                  for p in self.pods if not p.gone]
        text = json.dumps(groups)
        if self.targets_file.exists() and self.targets_file.read_text() == text:
            return
        tmp = self.targets_file.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.targets_file)  # atomic: Prometheus never reads half a file

    def cold_starts(self) -> list[float]:
        """Seconds from creation to first Ready of every pod that became ready."""
        return [p.first_ready - p.created for p in self.pods if p.first_ready is not None]

    def close(self) -> None:
        """Stop every pod (SIGTERM, then SIGKILL) and wait for them."""
        for pod in self.pods:
            if pod.thread is not None:
                pod.thread.join(timeout=self.start_timeout_s)
        for pod in self.pods:
            pod.agent.close()
            pod.gone = True


def router_endpoints(router_url: str) -> list[str]:
    """The router's current endpoints (for tests and the report)."""
    with urllib.request.urlopen(f"{router_url.rstrip('/')}{ENDPOINTS_PATH}", timeout=5) as response:
        return json.loads(response.read())["endpoints"]
