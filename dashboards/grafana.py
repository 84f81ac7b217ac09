"""What Grafana does to a panel query before Prometheus sees it, for the tests and the renderer.

- ``TimeContext``: ``$__interval`` (range / data points, floored at the datasource's scrape
  interval), ``$__rate_interval`` (``max($__interval + scrape, 4 x scrape)``), ``$__range``.
- ``resolve_variables``: query variables run ``label_values(selector, label)`` against Prometheus
  in order (later ones see earlier values); *All* becomes ``allValue`` or ``(v1|v2)``, like Grafana.
- ``interpolate``: ``$var``, ``${var}``, ``${var:fmt}`` and ``[[var]]``.
- ``iter_queries``: every (panel, target) pair of a dashboard JSON, rows skipped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import promql_parser

from agentwatch.durations import format_duration
from agentwatch.prometheus_api import PrometheusAPI
from agentwatch.telemetry import catalogue as c

__all__ = [
    "KUBERNETES_SOURCES",
    "PrometheusAPI",
    "TimeContext",
    "duration",
    "interpolate",
    "iter_queries",
    "metric_names",
    "needs_kubernetes",
    "resolve_variables",
]

_VAR = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)\]\]|\$(\w+)")
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*(\w+)\s*\)\s*$", re.S)
#: External sources that exist only on Kubernetes.
KUBERNETES_SOURCES = ("kube-state-metrics", "cAdvisor")


def duration(seconds: float) -> str:
    """Grafana's duration text for ``$__interval`` and friends: whole seconds, no weeks."""
    return format_duration(max(1, round(seconds)), units="dhms")


@dataclass(frozen=True)
class TimeContext:
    """A panel's time window: ``range_s`` ending at ``end``; ``scrape_s`` is the datasource setting."""

    end: float
    range_s: float = 3600.0
    scrape_s: float = 15.0
    max_points: int = 500

    @property
    def interval_s(self) -> float:
        return max(self.scrape_s, math.ceil(self.range_s / self.max_points))

    @property
    def rate_interval_s(self) -> float:
        return max(self.interval_s + self.scrape_s, 4 * self.scrape_s)

    def builtins(self) -> dict[str, str]:
        return {"__interval": duration(self.interval_s), "__rate_interval": duration(self.rate_interval_s),
                "__range": duration(self.range_s), "__range_s": str(round(self.range_s)),
                "__interval_ms": str(round(self.interval_s * 1000))}


def interpolate(text: str, values: Mapping[str, str]) -> str:
    """Replace Grafana variable references; unknown names are left alone (and fail to parse later)."""
    def repl(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        return values.get(name, match.group(0))

    return _VAR.sub(repl, text)


def _all_value(variable: Mapping[str, Any], options: list[str]) -> str:
    if variable.get("allValue"):
        return str(variable["allValue"])
    return "(" + "|".join(re.escape(o) for o in options) + ")"


def resolve_variables(dashboard: Mapping[str, Any], client: PrometheusAPI | None,
                      ctx: TimeContext) -> dict[str, str]:
    """Every variable's value as Grafana would substitute it in a query (defaults, All selected)."""
    values = ctx.builtins()
    for variable in dashboard.get("templating", {}).get("list", []):
        name, kind = variable["name"], variable.get("type")
        if kind == "datasource":
            values[name] = variable["query"]
        elif kind in ("custom", "interval", "constant"):
            current = variable.get("current", {}).get("value")
            values[name] = str(current if current is not None else variable["query"].split(",")[0])
        elif kind == "query":
            options: list[str] = []
            match = _LABEL_VALUES.match(interpolate(variable["query"], values))
            if client is not None and match:
                found = client.series(match.group(1), ctx.end - ctx.range_s, ctx.end)
                options = sorted({s[match.group(2)] for s in found if match.group(2) in s})
            values[name] = _all_value(variable, options) if variable.get("includeAll") else \
                (options[0] if options else "")
    return values


def iter_queries(dashboard: Mapping[str, Any]) -> Iterator[tuple[dict, dict]]:
    """(panel, target) for every query target of every non-row panel."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel, target


def metric_names(expr: str) -> set[str]:
    """Every metric a PromQL expression selects (parsed with ``promql_parser``)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name or next((m.value for m in node.matchers.matchers if m.name == "__name__"), None)
            if name:
                names.add(name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def needs_kubernetes(expr: str) -> bool:
    """True when every metric the query reads comes from kube-state-metrics or cAdvisor."""
    names = metric_names(expr)
    return bool(names) and all(c.EXTERNAL_METRICS.get(n, "").startswith(KUBERNETES_SOURCES) for n in names)
