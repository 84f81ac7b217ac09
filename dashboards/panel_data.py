"""Run a dashboard panel's queries the way Grafana would, and keep what they returned.

``query_panel`` interpolates each visible target (``grafana.interpolate``), runs it as a range
query over the window (or an instant query for ``instant`` targets) and names each series with
the target's ``legendFormat``; the result says whether the panel needs Kubernetes and whether it
came out empty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentwatch.dashboards.grafana import TimeContext, interpolate, needs_kubernetes
from agentwatch.prometheus_api import PrometheusAPI

__all__ = ["PanelResult", "Series", "legend", "query_panel"]


@dataclass
class Series:
    """One returned series: its legend text and (timestamp, value) points."""

    legend: str
    labels: dict[str, str]
    points: list[tuple[float, float]]

    @property
    def last(self) -> float | None:
        return next((v for _, v in reversed(self.points) if not math.isnan(v)), None)


@dataclass
class PanelResult:
    """What one panel showed: its series, whether its queries need Kubernetes, any query error."""

    title: str
    type: str
    series: list[Series] = field(default_factory=list)
    needs_kubernetes: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(s.points for s in self.series)


def legend(fmt: str, labels: Mapping[str, str]) -> str:
    if not fmt or fmt == "__auto":
        shown = {k: v for k, v in labels.items() if k != "__name__"}
        return ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "value"
    out = fmt
    for key, value in labels.items():
        out = out.replace("{{" + key + "}}", value).replace("{{ " + key + " }}", value)
    while "{{" in out and "}}" in out:  # labels the series lacks render empty, as in Grafana
        start = out.index("{{")
        out = out[:start] + out[out.index("}}", start) + 2:]
    return out.strip() or "value"


def query_panel(panel: Mapping[str, Any], client: PrometheusAPI, ctx: TimeContext,
                values: Mapping[str, str]) -> PanelResult:
    """Run every visible target of ``panel`` the way Grafana would; returns the series."""
    title = interpolate(panel.get("title", ""), values)
    result = PanelResult(title=title, type=panel["type"])
    targets = [t for t in panel.get("targets", []) if not t.get("hide")]
    result.needs_kubernetes = bool(targets) and all(needs_kubernetes(interpolate(t["expr"], values))
                                                    for t in targets)
    start, step = ctx.end - ctx.range_s, ctx.interval_s
    for t in targets:
        expr = interpolate(t["expr"], values)
        try:
            if t.get("instant"):
                raw = [{"metric": r["metric"], "values": [r["value"]]} for r in client.query(expr, ctx.end)]
            else:
                raw = client.query_range(expr, start, ctx.end, step)
        except (ValueError, OSError) as exc:
            result.errors.append(f"{t['refId']}: {exc}")
            continue
        for r in raw:
            points = [(float(ts), float(v)) for ts, v in r["values"]]
            result.series.append(Series(legend(t.get("legendFormat", ""), r["metric"]), r["metric"], points))
    return result
