"""Format values in the Grafana units the dashboards use (for the matplotlib renders)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["format_le", "format_value"]

_SI = ((1e9, "G"), (1e6, "M"), (1e4, "k"))  # like Grafana's "short": 1591 stays 1591
_BYTES = ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"))


def _num(value: float, decimals: Any) -> str:
    if decimals is not None:
        return f"{value:.{int(decimals)}f}"
    if value == 0 or abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}"


def format_value(value: float | None, unit: str, decimals: Any = None) -> str:
    """``0.0123, "percentunit"`` → ``1.23%``; ``0.004, "s"`` → ``4.00 ms``; ``2**20, "bytes"`` → ``1.00 MiB``."""
    if value is None or math.isnan(value):
        return "-"
    if unit == "percentunit":
        return f"{_num(value * 100, decimals)}%"
    if unit == "s":
        if value != 0 and abs(value) < 1e-3:
            return f"{_num(value * 1e6, decimals)} µs"
        if value != 0 and abs(value) < 1:
            return f"{_num(value * 1e3, decimals)} ms"
        return f"{_num(value, decimals)} s"
    if unit == "bytes":
        for size, name in _BYTES:
            if abs(value) >= size:
                return f"{_num(value / size, decimals)} {name}"
        return f"{_num(value, decimals)} B"
    suffix = {"reqps": " req/s"}.get(unit, "")
    for size, name in _SI:
        if abs(value) >= size:
            scale = 1e3 if name == "k" else size
            return f"{_num(value / scale, decimals)}{name}{suffix}"
    return f"{_num(value, decimals)}{suffix}"


def format_le(le: str, unit: str) -> str:
    """A bucket bound label in the panel's unit (``+Inf`` stays)."""
    if le in ("+Inf", "Inf"):
        return "+Inf"
    try:
        return format_value(float(le), unit, None)
    except ValueError:
        return le
