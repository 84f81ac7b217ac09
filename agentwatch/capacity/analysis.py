"""From a ramp's steps and the agent's scrapes to capacity, knee and autoscaling targets. Pure.

Definitions (what ``agentwatch capacity`` reports):

- A **step** holds the SLO when at least the objective's share of its messages got a 200 within
  the latency threshold and its error ratio stays within the availability SLO's budget (measured
  by the load generator, after the step's warm-up seconds).
- **Capacity** is the highest throughput (messages answered with 200 per second) of a step that
  held the SLO: sustained for a whole step, not a peak second.
- The **knee** is where the latency curve bends: Kneedle (Satopaa et al., 2011, the ``kneed``
  package) over offered load (users) against the step's p99, made non-decreasing first.
- **Autoscaling targets** (the documented rule, :func:`autoscaling_targets`): a pod should run at
  ``utilisation`` times its capacity, leaving 1/utilisation headroom for the traffic that arrives
  while the autoscaler reacts and a new pod loads its model. The HPA targets are the queue length
  and the forward-pass time the pod showed at that rate, interpolated between the measured steps.

Load on a shared machine makes single steps noisy (a step can catch another process's burst), and
queue length, forward-pass time and latency can only grow with load, so every curve is made
non-decreasing by isotonic regression (:func:`isotonic`) before it is interpolated or searched.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agentwatch.capacity.sampler import Sample

__all__ = [
    "UTILISATION",
    "AutoscalingTargets",
    "StepStats",
    "autoscaling_targets",
    "capacity_step",
    "interpolate",
    "isotonic",
    "knee_step",
    "significant",
    "step_stats",
]

#: Default share of the measured capacity a pod runs at once the autoscaler has settled.
UTILISATION = 0.7


@dataclass(frozen=True)
class StepStats:
    """One ramp step: the load generator's view, and the agent's own metrics over the same seconds."""

    step: int
    users: int
    start: float
    end: float
    measured_from: float
    messages: int
    throughput: float  # messages answered 200 per second
    error_ratio: float
    good_ratio: float
    p50: float | None
    p95: float | None
    p99: float | None
    slo_ok: bool
    # From the agent's /metrics over [measured_from, end]:
    queue_length: float | None  # mean of the scraped gauge
    queue_length_max: float | None
    inference_time: float | None  # mean seconds per forward pass
    batch_size: float | None  # mean requests per forward pass
    cpu_cores: float | None
    rss_bytes: float | None  # max
    server_throughput: float | None  # message requests per second, any status
    cpu_wait: float | None = None  # seconds per second the agent waited for its CPU (other processes had it)

    @property
    def cpu_per_message(self) -> float | None:
        """CPU seconds per message answered: robust to other load on the machine, unlike throughput."""
        if not self.cpu_cores or not self.server_throughput:
            return None
        return self.cpu_cores / self.server_throughput

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rate(first: Sample, last: Sample, attr: str) -> float | None:
    dt = last.t - first.t
    return (getattr(last, attr) - getattr(first, attr)) / dt if dt > 0 else None


def step_stats(step: dict[str, Any], samples: Sequence[Sample]) -> StepStats:
    """Join one recorded ramp step with the scrapes taken during its measured seconds."""
    inside = [s for s in samples if step["measured_from"] <= s.t <= step["end"]]
    queue = [s.queue_length for s in inside]
    first, last = (inside[0], inside[-1]) if len(inside) >= 2 else (None, None)
    inference = batch = cpu = server = wait = None
    if first and last:
        passes = last.inference_passes - first.inference_passes
        if passes > 0:
            inference = (last.inference_seconds - first.inference_seconds) / passes
            batch = (last.batched_requests - first.batched_requests) / passes
        cpu = _rate(first, last, "cpu_seconds")
        server = _rate(first, last, "messages")
        wait = _rate(first, last, "cpu_wait_seconds")
    return StepStats(
        step=step["step"], users=step["users"], start=step["start"], end=step["end"],
        measured_from=step["measured_from"], messages=step["messages"], throughput=step["throughput"],
        error_ratio=step["error_ratio"], good_ratio=step["good_ratio"], p50=step["p50"], p95=step["p95"],
        p99=step["p99"], slo_ok=step["slo_ok"],
        queue_length=statistics.fmean(queue) if queue else None, queue_length_max=max(queue, default=None),
        inference_time=inference, batch_size=batch, cpu_cores=cpu,
        rss_bytes=max((s.rss_bytes for s in inside), default=None), server_throughput=server, cpu_wait=wait)


def capacity_step(steps: Sequence[StepStats]) -> StepStats | None:
    """The step with the highest throughput among those that held the SLO (``None``: none held)."""
    held = [s for s in steps if s.slo_ok]
    return max(held, key=lambda s: s.throughput) if held else None


def isotonic(values: Sequence[float]) -> list[float]:
    """The non-decreasing sequence closest to ``values`` in least squares (pool adjacent violators).

    Ten lines here rather than scikit-learn's ``IsotonicRegression`` and its dependencies.
    """
    blocks: list[list[float]] = []  # [sum, count] of pooled neighbours
    for value in values:
        blocks.append([value, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    return [total / count for total, count in blocks for _ in range(int(count))]


def knee_step(steps: Sequence[StepStats]) -> StepStats | None:
    """The step at the knee of users → p99 (``None`` with fewer than four steps or no knee)."""
    points = [(s.users, s.p99, s) for s in steps if s.p99 is not None]
    if len(points) < 4:
        return None
    from kneed import KneeLocator

    locator = KneeLocator([p[0] for p in points], isotonic([p[1] for p in points]), curve="convex",
                          direction="increasing")
    if locator.knee is None:
        return None
    return next(s for users, _, s in points if users == locator.knee)


def fitted(steps: Sequence[StepStats], attr: str) -> list[tuple[float, float]]:
    """``(throughput, attr)`` of the SLO-holding steps by throughput, ``attr`` made non-decreasing."""
    points = sorted((s.throughput, getattr(s, attr)) for s in steps if s.slo_ok and getattr(s, attr) is not None)
    return list(zip([x for x, _ in points], isotonic([y for _, y in points]), strict=True))


def interpolate(steps: Sequence[StepStats], throughput: float, attr: str) -> float | None:
    """``attr`` at ``throughput`` on the fitted curve of the SLO-holding steps, linear between the
    two steps around it (the nearest step's value outside their range: no extrapolation)."""
    points = fitted(steps, attr)
    if not points:
        return None
    if throughput <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= throughput <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (throughput - x0) / (x1 - x0)
    return points[-1][1]


def significant(value: float, digits: int = 2) -> float:
    """``value`` to ``digits`` significant digits (a target is an order of magnitude, not a measurement)."""
    return float(f"{value:.{digits}g}")


@dataclass(frozen=True)
class AutoscalingTargets:
    """The autoscaler's per-pod targets, derived from one capacity measurement."""

    utilisation: float
    capacity: float  # msg/s per pod at the SLO
    rate: float  # msg/s per pod the targets correspond to
    queue_length_target: float
    inference_time_target: float
    queue_length_measured: float
    inference_time_measured: float
    rule: str
    #: The fitted curves the targets were read from: (throughput, value) per SLO-holding step.
    queue_length_fit: list[tuple[float, float]]
    inference_time_fit: list[tuple[float, float]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The minimum queue-length target: below it, one waiting request would already look like 10 times the load.
MIN_QUEUE_TARGET = 0.1


def autoscaling_targets(steps: Sequence[StepStats], utilisation: float = UTILISATION) -> AutoscalingTargets | None:
    """The rule: at ``utilisation`` times capacity, read the mean queue length and mean forward-pass
    time from the fitted step curves (linear interpolation by throughput); round to two significant digits;
    the queue target is at least ``MIN_QUEUE_TARGET``. ``None`` when no step held the SLO."""
    if not 0 < utilisation <= 1:
        raise ValueError(f"utilisation must be in (0, 1], got {utilisation:g}")
    best = capacity_step(steps)
    if best is None:
        return None
    rate = utilisation * best.throughput
    queue = interpolate(steps, rate, "queue_length")
    inference = interpolate(steps, rate, "inference_time")
    if queue is None or inference is None:
        return None
    rule = (f"targets = the pod's mean queue length and mean forward-pass time at {utilisation:.0%} of its "
            f"capacity ({rate:.1f} of {best.throughput:.1f} msg/s), read from the ramp steps made "
            f"non-decreasing and interpolated, 2 significant digits, queue target >= {MIN_QUEUE_TARGET:g}")
    return AutoscalingTargets(utilisation, best.throughput, rate, max(MIN_QUEUE_TARGET, significant(queue)),
                              significant(inference), queue, inference, rule, fitted(steps, "queue_length"),
                              fitted(steps, "inference_time"))
