"""The reference agent as a benchmark subject: pinned with taskset, scraped, measured.

Usage::

    with RedisServer() as redis, PinnedAgent(redis.url, pinning) as agent:
        families = scrape(agent.url)
        rss_bytes(agent.pid)
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

from agentwatch.bench.harness import Pinning
from agentwatch.local.processes import AgentProcess

__all__ = ["PinnedAgent", "Scrape", "pin_process", "rss_bytes", "scrape"]


class PinnedAgent(AgentProcess):
    """``agentwatch serve`` on a free port, under ``taskset`` on the server CPUs when pinning works.

    ``AGENT_TORCH_THREADS`` defaults to the CPUs the process may use, so a pinned agent and the
    bare-model baseline of the serving benchmark get the same thread count.
    """

    def __init__(self, redis_url: str, pinning: Pinning | None = None, env: Mapping[str, str] | None = None,
                 log_level: str = "warning") -> None:
        super().__init__({"REDIS_URL": redis_url, **(env or {})})
        self.pinning = pinning
        self.log_level = log_level

    def command(self) -> list[str]:
        cmd = [*super().command(), "--log-level", self.log_level]
        return self.pinning.wrap(cmd, "server") if self.pinning else cmd

    @property
    def pid(self) -> int:
        assert self.process is not None, "agent not started"
        return self.process.pid


class Scrape:
    """One ``/metrics`` scrape: the body's size and its samples."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.samples = [s for family in text_string_to_metric_families(body.decode())
                        for s in family.samples]

    @property
    def series(self) -> int:
        return len(self.samples)

    def value(self, name: str, **labels: str) -> float:
        """Sum of the samples named ``name`` whose labels include ``labels``."""
        found = [s.value for s in self.samples
                 if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
        if not found:
            raise KeyError(f"no sample {name}{labels or ''} in the scrape")
        return sum(found)


def scrape(base_url: str, openmetrics: bool = False) -> Scrape:
    """GET ``/metrics`` (text format 0.0.4 unless ``openmetrics``)."""
    request = urllib.request.Request(f"{base_url}/metrics")
    if openmetrics:
        request.add_header("Accept", "application/openmetrics-text; version=1.0.0")
    with urllib.request.urlopen(request, timeout=10) as response:
        return Scrape(response.read())


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` from ``/proc/<pid>/status``."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def pin_process(pid: int, cpus: str | None) -> None:
    """Pin every thread of an already running process (e.g. redis-server) to ``cpus``."""
    if not cpus:
        return
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {int(c) for c in cpus.split(",")})
