"""Load shapes, chosen by name: ``steady``, ``ramp``, ``spike``, ``soak``.

Pure: each shape answers "how many users now?" from the run time (and, for ``ramp``, from what
the users measured), so it is testable without Locust. The locustfile's one ``LoadTestShape``
delegates to the shape named on the command line (``--shape``, or ``LOAD_SHAPE``).

- ``steady``: ``users`` for the whole run (after a short spawn).
- ``ramp``: start at ``users``, add ``step_users`` every ``step_seconds``; each step holds the SLO
  when at least ``slo_objective`` % of its messages got a 200 within ``slo_latency`` seconds and
  no more than ``slo_error_ratio`` failed. The run stops after ``breaches`` consecutive steps
  break it (or at ``max_users``). Every step is recorded for ``agentwatch capacity``.
- ``spike``: ``users``, then ``spike_factor`` times ``users`` from ``spike_start`` for ``spike_seconds``
  (default: the middle half of the run), then back: the 9 a.m. surge.
- ``soak``: ``steady`` for hours; the summary compares the first and the last part of the run.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from agentwatch.load.ledger import Recorder

__all__ = ["SHAPES", "Ramp", "Shape", "ShapeOptions", "Soak", "Spike", "Steady", "make_shape"]

Tick = tuple[int, float] | None


@dataclass(frozen=True)
class ShapeOptions:
    """Every shape's knobs (each shape reads the ones it needs)."""

    users: int = 20
    seconds: float = 60.0
    spawn_rate: float | None = None
    step_users: int = 10
    step_seconds: float = 20.0
    max_users: int = 1000
    warmup_seconds: float = 2.0  # start of each ramp step left out of its measurement
    spike_factor: float = 5.0
    spike_start: float | None = None
    spike_seconds: float | None = None
    slo_latency: float | None = None  # seconds: the latency SLO's threshold
    slo_objective: float = 99.0  # percent of messages answered within slo_latency
    slo_error_ratio: float = 0.001
    breaches: int = 2

    def __post_init__(self) -> None:
        problems = []
        if self.users < 1:
            problems.append(f"users must be at least 1, got {self.users}")
        if self.seconds <= 0:
            problems.append(f"seconds must be greater than 0, got {self.seconds:g}")
        if self.step_users < 1 or self.step_seconds <= 0:
            problems.append("step_users must be at least 1 and step_seconds greater than 0")
        if self.warmup_seconds < 0 or self.warmup_seconds >= self.step_seconds:
            problems.append(f"warmup_seconds must be in [0, step_seconds), got {self.warmup_seconds:g}")
        if self.spike_factor < 1:
            problems.append(f"spike_factor must be at least 1, got {self.spike_factor:g}")
        if not 0 < self.slo_objective < 100:
            problems.append(f"slo_objective must be strictly between 0 and 100, got {self.slo_objective:g}")
        if not 0 <= self.slo_error_ratio < 1:
            problems.append(f"slo_error_ratio must be in [0, 1), got {self.slo_error_ratio:g}")
        if self.breaches < 1:
            problems.append(f"breaches must be at least 1, got {self.breaches}")
        if problems:
            raise ValueError("; ".join(problems))


class Shape(ABC):
    """Users over time. ``tick`` returns ``(users, spawn_rate)``, or ``None`` to end the run."""

    name = ""

    def __init__(self, options: ShapeOptions) -> None:
        self.options = options

    @property
    def spawn_rate(self) -> float:
        o = self.options
        return o.spawn_rate or max(1.0, o.users / 5)

    @abstractmethod
    def tick(self, run_time: float, now: float, recorder: Recorder) -> Tick:
        """``run_time``: seconds since the run started; ``now``: wall clock (``time.time()``)."""


class Steady(Shape):
    name = "steady"

    def tick(self, run_time: float, now: float, recorder: Recorder) -> Tick:
        return (self.options.users, self.spawn_rate) if run_time < self.options.seconds else None


class Soak(Steady):
    name = "soak"


class Spike(Shape):
    name = "spike"

    def window(self) -> tuple[float, float]:
        """Start and end of the surge, in run seconds."""
        o = self.options
        start = o.spike_start if o.spike_start is not None else o.seconds / 4
        length = o.spike_seconds if o.spike_seconds is not None else o.seconds / 2
        return start, start + length

    def tick(self, run_time: float, now: float, recorder: Recorder) -> Tick:
        o = self.options
        if run_time >= o.seconds:
            return None
        start, end = self.window()
        peak = math.ceil(o.users * o.spike_factor)
        # The surge arrives within about ten seconds, as a queue fills at opening time.
        rate = o.spawn_rate or max(1.0, (peak - o.users) / 10)
        return (peak, rate) if start <= run_time < end else (o.users, rate)


class Ramp(Shape):
    """Step up until the SLO breaks; ``steps`` holds one measured record per finished step."""

    name = "ramp"

    def __init__(self, options: ShapeOptions) -> None:
        super().__init__(options)
        self.step = -1
        self.step_started = 0.0  # run time
        self.step_started_wall = 0.0
        self.breached = 0
        self.steps: list[dict[str, object]] = []

    def users_at(self, step: int) -> int:
        return self.options.users + step * self.options.step_users

    def _finish_step(self, now: float, recorder: Recorder) -> None:
        o = self.options
        window = recorder.window(self.step_started_wall + o.warmup_seconds, now, o.slo_latency)
        slo_ok = (window.messages > 0 and window.error_ratio <= o.slo_error_ratio
                  and window.good_ratio * 100 >= o.slo_objective)
        self.breached = 0 if slo_ok else self.breached + 1
        record = {"step": self.step, "users": self.users_at(self.step), "start": self.step_started_wall,
                  "end": now, "measured_from": window.start, "messages": window.messages, "ok": window.ok,
                  "throughput": window.throughput, "error_ratio": window.error_ratio, "good_ratio": window.good_ratio,
                  "p50": window.p50, "p95": window.p95, "p99": window.p99, "slo_ok": slo_ok}
        self.steps.append(record)
        recorder.steps.append(record)

    def tick(self, run_time: float, now: float, recorder: Recorder) -> Tick:
        o = self.options
        if self.step < 0 or run_time - self.step_started >= o.step_seconds:
            if self.step >= 0:
                self._finish_step(now, recorder)
                if self.breached >= o.breaches:
                    return None
            if self.users_at(self.step + 1) > o.max_users or run_time >= o.seconds:
                return None
            self.step += 1
            self.step_started, self.step_started_wall = run_time, now
        # A step's users arrive within about a second, so the step measures its own load.
        return self.users_at(self.step), o.spawn_rate or float(max(o.step_users, o.users, 10))


SHAPES: dict[str, type[Shape]] = {shape.name: shape for shape in (Steady, Ramp, Spike, Soak)}


def make_shape(name: str, options: ShapeOptions) -> Shape:
    try:
        return SHAPES[name](options)
    except KeyError:
        raise ValueError(f"unknown load shape {name!r} (allowed: {', '.join(SHAPES)})") from None
