"""Burn-rate alert windows as data (``windows/<period>.yaml``).

Each SLO period has a table of tiers (severity, share of the error budget, long and short window,
``for``). The burn factor is derived, never typed: ``budget_percent / 100 * period / long``.

Usage::

    from agentwatch.alerts.windows import tiers
    [t.factor for t in tiers("30d")]       # [14.4, 6.0, 3.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

import yaml

from agentwatch.durations import format_duration, parse_duration

__all__ = ["Tier", "scale", "tiers"]

def scale(duration: str, time_scale: int) -> str:
    """Divide a duration by ``time_scale`` (demos only; 1 returns it unchanged)."""
    if time_scale == 1:
        return duration
    return format_duration(parse_duration(duration) / time_scale)


@dataclass(frozen=True)
class Tier:
    """One multi-window burn-rate condition."""

    severity: str
    budget_percent: Decimal
    long: str
    short: str
    for_: str
    period: str

    @property
    def factor(self) -> Decimal:
        """Burn rate that spends ``budget_percent`` of the budget within the long window."""
        value = self.budget_percent / 100 * parse_duration(self.period) / parse_duration(self.long)
        return value.quantize(Decimal("0.001")).normalize()


@cache
def tiers(period: str) -> tuple[Tier, ...]:
    """The tiers for an SLO period (``30d``, ``28d``, ``7d``), read from ``windows/<period>.yaml``."""
    try:
        text = resources.files("agentwatch.alerts").joinpath("windows", f"{period}.yaml").read_text()
    except FileNotFoundError:
        raise ValueError(f"no alert windows for an SLO period of {period}") from None
    data = yaml.safe_load(text)
    return tuple(Tier(t["severity"], Decimal(str(t["budget_percent"])), t["long"], t["short"], t["for"],
                      data["period"]) for t in data["tiers"])
