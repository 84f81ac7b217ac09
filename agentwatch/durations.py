"""Durations: the one parser and formatter for Prometheus-style duration text.

Specs, rule windows, CLI options (``--since 1h``) and dashboard variables all speak Prometheus
durations (``500ms``, ``5m``, ``1h30m``, ``30d``). Seconds are exact ``Decimal`` so a window scaled for
a demo or multiplied into a burn factor never picks up float noise.

Usage::

    parse_duration("1h30m")            # Decimal('5400')
    format_duration(3600)              # '1h'
    go_duration(0.005)                 # '5ms'  (Go time.Duration text, for the Collector)
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["DurationError", "format_duration", "go_duration", "parse_duration"]

_UNITS = {"y": Decimal(31536000), "w": Decimal(604800), "d": Decimal(86400), "h": Decimal(3600),
          "m": Decimal(60), "s": Decimal(1), "ms": Decimal("0.001")}
#: Prometheus' grammar: units largest first, each at most once (``1h30m``, not ``30m1h``).
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")


class DurationError(ValueError):
    """Text that is not a Prometheus duration."""


def parse_duration(text: str) -> Decimal:
    """``"5m"`` → ``Decimal(300)``; ``"1h30m"`` → 5400. Raises ``DurationError`` on anything else,
    zero included (no window, timeout or range is ever zero)."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise DurationError(f"{text!r} is not a duration (a number with ms, s, m, h, d, w or y, e.g. 90s, 5m, 1h30m)")
    seconds = sum((Decimal(count) * unit for count, unit in zip(match.groups(), _UNITS.values(), strict=True)
                   if count is not None), Decimal(0))
    if seconds <= 0:
        raise DurationError(f"{text!r} is zero: a duration must be positive")
    return seconds


def format_duration(seconds: float | Decimal, units: str = "wdhms") -> str:
    """Seconds → the largest unit that divides them exactly (``3600`` → ``1h``, ``90`` → ``90s``,
    ``0.5`` → ``500ms``); ``units`` limits the units tried (Grafana's ``$__range`` never uses ``w``)."""
    value = Decimal(str(seconds)) if not isinstance(seconds, Decimal) else seconds
    for unit in ("y", "w", "d", "h", "m", "s"):
        if unit not in units:
            continue
        count = value / _UNITS[unit]
        if count >= 1 and count == count.to_integral_value():
            return f"{int(count)}{unit}"
    return f"{max(1, int((value * 1000).to_integral_value()))}ms"


def go_duration(seconds: float) -> str:
    """Go ``time.Duration`` text for a bound in seconds: ``0.005`` → ``5ms``, ``2.5`` → ``2.5s``."""
    if seconds < 1:
        return f"{round(seconds * 1000, 6):g}ms"
    return f"{seconds:g}s"
