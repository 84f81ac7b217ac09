"""Scrape one agent's ``/metrics`` every second during a capacity run, in a background thread.

A direct scrape rather than a Prometheus: one target, one-second resolution, nothing else to
start on a two-core machine. The samples are raw counters and gauges; :mod:`.analysis` turns
them into rates per load step.

Usage::

    with Sampler(agent.url) as sampler:
        ...                                  # drive load
    sampler.samples                          # [Sample(t=..., cpu_seconds=..., ...), ...]
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Self

from agentwatch.bench.agents import Scrape, scrape
from agentwatch.load.slo import MESSAGES_ROUTE
from agentwatch.telemetry import catalogue as c

__all__ = ["Sample", "Sampler", "sample_from"]


@dataclass(frozen=True)
class Sample:
    """One scrape: counters are cumulative (rates come from differences), gauges are instant."""

    t: float
    cpu_seconds: float
    rss_bytes: float
    queue_length: float
    inflight: float
    inference_seconds: float  # sum over classify forward passes
    inference_passes: float
    batched_requests: float  # sum of batch sizes
    messages: float  # message requests answered, any status
    cpu_wait_seconds: float = 0.0  # time the agent's threads were runnable but waited for a CPU


    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _value(data: Scrape, name: str, **labels: str) -> float:
    try:
        return data.value(name, **labels)
    except KeyError:
        return 0.0  # a histogram with no observation yet has no series


def run_queue_wait(pid: int) -> float:
    """Seconds every thread of ``pid`` spent runnable but waiting for a CPU (``/proc/<pid>/task/*/schedstat``,
    second field, nanoseconds): on a shared machine, the CPU other processes took from the agent."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[1])
    return total / 1e9


def sample_from(data: Scrape, t: float, cpu_wait: float = 0.0) -> Sample:
    classify = {"operation": "classify"}
    return Sample(
        t=t,
        cpu_seconds=_value(data, c.PROCESS_CPU_SECONDS),
        rss_bytes=_value(data, c.PROCESS_RESIDENT_MEMORY),
        queue_length=_value(data, c.QUEUE_LENGTH.name),
        inflight=_value(data, c.INFLIGHT_REQUESTS.name),
        inference_seconds=_value(data, c.INFERENCE_DURATION.sum, **classify),
        inference_passes=_value(data, c.INFERENCE_DURATION.count, **classify),
        batched_requests=_value(data, c.INFERENCE_BATCH_SIZE.sum),
        messages=_value(data, c.REQUEST_DURATION.count, route=MESSAGES_ROUTE),
        cpu_wait_seconds=cpu_wait,
    )


class Sampler:
    """Scrapes ``base_url`` every ``interval`` seconds until closed; failed scrapes are counted."""

    def __init__(self, base_url: str, interval: float = 1.0, pid: int | None = None) -> None:
        self.base_url, self.interval, self.pid = base_url, interval, pid
        self.samples: list[Sample] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="capacity-sampler")

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                wait = run_queue_wait(self.pid) if self.pid else 0.0
                self.samples.append(sample_from(scrape(self.base_url), time.time(), wait))
            except OSError:
                self.failures += 1
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
