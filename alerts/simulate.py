"""A minute-by-minute model of the SLO rules, used to write the expected values of promtool tests.

Counters grow by a fixed amount per minute in phases and are sampled every minute from 0, like
promtool's ``0+AxN`` series. With samples at both ends of every window (or a counter starting at
0), Prometheus' ``rate`` is exactly ``Δcounter / window``, so window ratios are ``Δbad / Δtotal``.
The model also replays the alert state machine (``for``, and the zero-traffic hold), so the
generated expectations come from the scenario, not from running the rules under test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate

from agentwatch.alerts.windows import Tier
from agentwatch.durations import parse_duration

__all__ = ["Phase", "Simulation", "go_g4", "prom_round"]


@dataclass(frozen=True)
class Phase:
    """``minutes`` of ``rpm`` requests per minute, erring at ``burn`` times the error budget."""

    minutes: int
    rpm: float
    burn: float = 0.0


def _minutes(duration: str) -> int:
    return int(parse_duration(duration) / 60)


def go_g4(value: float) -> str:
    """Go's ``%.4g`` (what Prometheus' ``humanizePercentage`` uses)."""
    text = f"{value:.4g}"
    mantissa, _, exp = text.partition("e")
    if exp:
        sign, digits = exp[0], exp[1:].lstrip("0")
        text = f"{mantissa}e{sign}{digits.zfill(2)}"
    return text


def prom_round(value: float) -> float:
    """PromQL ``round``: halves round up."""
    return math.floor(value + 0.5)


class Simulation:
    """Counters of one SLO scenario and the rule values they imply."""

    def __init__(self, phases: list[Phase], budget: Decimal, step: int = 1) -> None:
        self.budget = float(budget)
        self.step = step  # minutes between rule evaluations (and input samples)
        self.bad_inc: list[float] = []
        self.total_inc: list[float] = []
        for phase in phases:
            bad = phase.rpm * phase.burn * self.budget
            self.bad_inc += [bad] * phase.minutes
            self.total_inc += [phase.rpm] * phase.minutes
        self.bad = [0.0, *accumulate(self.bad_inc)]
        self.total = [0.0, *accumulate(self.total_inc)]
        self.end = len(self.total) - 1

    def ratio(self, t: int, window: str) -> float | None:
        """``slo:sli_error:ratio_rate<window>`` at minute ``t``; ``None`` = no sample."""
        lo = max(0, t - _minutes(window))
        if t < 1 or self.total[t] - self.total[lo] <= 0:
            return None
        return (self.bad[t] - self.bad[lo]) / (self.total[t] - self.total[lo])

    def period_ratio(self, t: int, period: str) -> float | None:
        """Traffic-weighted period ratio: Σ 5m bad rates / Σ 5m total rates since ``t - period``."""
        since = t - _minutes(period)
        times = [s for s in range(self.step, t + 1, self.step) if s >= since]
        bad = sum((self.bad[s] - self.bad[max(0, s - 5)]) / 300 for s in times)
        total = sum((self.total[s] - self.total[max(0, s - 5)]) / 300 for s in times)
        return bad / total if total > 0 else None

    def firing(self, tier: Tier, until: int) -> dict[int, bool]:
        """Whether the tier's alert fires at each evaluation up to ``until`` (``for`` and hold included)."""
        factor, hold_for = float(tier.factor), _minutes(tier.for_)
        states, active_since, was_firing = {}, None, False
        for t in range(0, until + 1, self.step):
            long, short = self.ratio(t, tier.long), self.ratio(t, tier.short)
            long_burns = long is not None and long / self.budget > factor
            burning = long_burns and short is not None and short / self.budget > factor
            held = was_firing and long_burns and short is None
            if not (burning or held):
                active_since = None
            elif active_since is None:
                active_since = t
            was_firing = active_since is not None and t - active_since >= hold_for
            states[t] = was_firing
        return states

    def samples(self, increments: list[float]) -> list[float]:
        """Per-sample increments of a per-minute series sampled every ``step`` minutes."""
        return [sum(increments[i:i + self.step]) for i in range(0, len(increments), self.step)]
