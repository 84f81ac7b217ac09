"""Replay a load through the HPA controller (:mod:`agentwatch.autoscaling.hpa`): ``agentwatch hpa-sim``.

The controller syncs at t = 0, period, 2 * period, ... up to the last time of the load. What the
replay assumes about pods, stated once:

- The target starts with ``replicas`` pods (default ``minReplicas``), ready since long ago.
- A scale-up creates pods at once (scheduling and image pull are part of ``ready_after``); each is
  Running but not Ready for ``ready_after`` seconds. Meanwhile it takes no traffic and reports 0
  for every metric: the agent serves ``/metrics`` while its model loads, Prometheus scrapes pods
  that are not ready, and the generated adapter rules answer 0 (not nothing) for a pod that queued
  nothing and ran no inference. For Pods metrics the controller counts every pod that reports,
  Ready or not (``groupPods`` looks at readiness only for CPU), so a starting pod's 0 lowers the
  average.
- Once ready, a pod takes an even share of a count metric and reports the average metric's value.
- A scale-down removes pods at once: not-ready pods first, then the most recently ready (the
  ReplicaSet's deletion order); terminating pods are ignored by the controller.

Usage::

    rows = simulate(load_hpa("hpa.yaml"), read_load("load.csv", names), ready_after=6.0)
    rows[-1].replicas, rows[-1].desired
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from agentwatch.autoscaling.hpa import (
    Decision,
    HorizontalController,
    HPASpec,
    MetricUnavailable,
    Pod,
    Sample,
)
from agentwatch.autoscaling.load import Load, metric_kind

__all__ = ["SimError", "SimRow", "pods_metric_names", "simulate"]

_LONG_AGO = -3600.0


class SimError(ValueError):
    """The HPA or the options cannot be replayed (e.g. a metric type hpa-sim does not model)."""


@dataclass(frozen=True)
class SimRow:
    """One sync of the replay."""

    time: float
    replicas: int
    desired: int
    ready: int
    #: Per metric: the average per pod the controller computed (plain units), None if invalid.
    per_pod: dict[str, float | None] = field(default_factory=dict)
    decision: Decision | None = None


@dataclass
class _SimPod:
    name: str
    created: float
    ready_at: float

    def pod(self, now: float) -> Pod:
        ready = now >= self.ready_at
        return Pod(self.name, "Running", ready, self.created, self.ready_at if ready else self.created)


def pods_metric_names(spec: HPASpec) -> list[str]:
    """The HPA's Pods metric names; any other metric type is a :class:`SimError`."""
    others = [f"spec.metrics[{i}] is a {m.type} metric ({m.name})" for i, m in enumerate(spec.metrics)
              if m.type != "Pods"]
    if others:
        raise SimError("hpa-sim replays Pods metrics with AverageValue targets only; " + "; ".join(others))
    return [m.name for m in spec.metrics]


def _samples(load: Load, metric: str, t: float, pods: Sequence[_SimPod]) -> dict[str, Sample] | MetricUnavailable:
    value = load.value(metric, t)
    if value is None:
        return MetricUnavailable(f"the load has no row at or before t={t:g}s")
    ready = [p for p in pods if t >= p.ready_at]
    starting = [p for p in pods if t < p.ready_at]
    each = (value / len(ready) if ready else 0.0) if metric_kind(metric) == "count" else value
    return {**{p.name: Sample(each, t) for p in ready}, **{p.name: Sample(0.0, t) for p in starting}}


def simulate(spec: HPASpec, load: Load, replicas: int | None = None, ready_after: float = 0.0,
             sync_period: float = 15.0) -> list[SimRow]:
    """Replay ``load`` through a fresh controller for ``spec``; one :class:`SimRow` per sync."""
    metrics = pods_metric_names(spec)
    if sync_period <= 0:
        raise SimError(f"the sync period must be greater than 0, got {sync_period:g}")
    if ready_after < 0:
        raise SimError(f"--ready-after must be 0 or more, got {ready_after:g}")
    current = spec.min_replicas if replicas is None else replicas
    if current < 0:
        raise SimError(f"--replicas must be 0 or more, got {current}")
    names = (f"{spec.target_name or spec.name}-{i}" for i in itertools.count())
    pods = [_SimPod(next(names), _LONG_AGO, _LONG_AGO) for _ in range(current)]
    controller = HorizontalController(spec)
    rows = []
    for step in range(math.floor(load.end / sync_period) + 1):
        t = step * sync_period
        decision = controller.sync(t, current, [p.pod(t) for p in pods],
                                   {m: _samples(load, m, t, pods) for m in metrics})
        per_pod = {p.metric.name: (p.current / 1000 if p.current is not None else None) for p in decision.proposals}
        rows.append(SimRow(t, current, decision.desired, sum(1 for p in pods if t >= p.ready_at), per_pod, decision))
        if decision.desired > current:
            pods += [_SimPod(next(names), t, t + ready_after) for _ in range(decision.desired - current)]
        elif decision.desired < current:
            # Deletion order: not ready first, then the most recently ready.
            order = sorted(pods, key=lambda p: (t >= p.ready_at, -p.ready_at))
            doomed = {p.name for p in order[:current - decision.desired]}
            pods = [p for p in pods if p.name not in doomed]
        current = decision.desired
    return rows
