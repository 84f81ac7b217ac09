"""Panel and target builders shared by the four dashboards (grafanalib objects).

Every builder requires a description, a unit and thresholds, so no panel can leave them out.
grafanalib 0.7 emits legacy JSON for heatmaps and bar gauges; those two are written here on its
``Panel`` base with the Grafana 10+ options.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Sequence

import attr
from grafanalib import core as g

__all__ = [
    "PROMETHEUS_DS",
    "BarGauge",
    "Heatmap",
    "PromTarget",
    "bargauge",
    "heatmap",
    "jaeger_link",
    "piechart",
    "stat",
    "steps",
    "table",
    "target",
    "timeseries",
]

#: Every panel and target reads Prometheus through the ``datasource`` template variable.
PROMETHEUS_DS = {"type": "prometheus", "uid": "${datasource}"}

Step = tuple[float, str]


def steps(base: str, *above: Step) -> list[dict]:
    """Threshold steps: ``steps("green", (0.01, "orange"), (0.05, "red"))``."""
    return [{"color": base, "value": None}, *({"color": color, "value": value} for value, color in above)]


@attr.s
class PromTarget(g.Target):
    """A Prometheus query in the JSON shape Grafana 10+ saves (``range``/``instant``/``exemplar``)."""

    exemplar = attr.ib(default=False)

    def to_json_data(self) -> dict:
        return {
            "datasource": PROMETHEUS_DS,
            "editorMode": "code",
            "exemplar": self.exemplar,
            "expr": self.expr,
            "format": self.format,
            "instant": self.instant,
            "legendFormat": self.legendFormat,
            "range": not self.instant,
            "refId": self.refId,
        }


def target(expr: str, legend: str = "__auto", *, exemplar: bool = False, instant: bool = False,
           fmt: str = "time_series") -> PromTarget:
    """One query; refIds are assigned by the panel builders (A, B, C...)."""
    return PromTarget(expr=expr, legendFormat=legend, exemplar=exemplar, instant=instant, format=fmt,
                      refId="?")


def _with_refs(targets: Sequence[PromTarget]) -> list[PromTarget]:
    return [attr.evolve(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)]


def _common(title: str, description: str, targets: Sequence[PromTarget], thresholds: list[dict],
            links: Sequence[dict]) -> dict:
    if not description:
        raise ValueError(f"panel {title!r} needs a description")
    return {"title": title, "description": description, "dataSource": PROMETHEUS_DS,
            "targets": _with_refs(targets), "thresholds": thresholds, "links": list(links)}


def timeseries(title: str, description: str, targets: Sequence[PromTarget], *, unit: str,
               thresholds: list[dict], show_thresholds: bool = False, stack: bool = False,
               max_one: bool = False, links: Sequence[dict] = (), fill: int = 10,
               no_value: str | None = None) -> g.TimeSeries:
    """A time series; ``show_thresholds`` draws the thresholds as dashed lines."""
    extra = {"fieldConfig": {"defaults": {"noValue": no_value}}} if no_value else None
    return g.TimeSeries(
        **_common(title, description, targets, thresholds, links),
        unit=unit, fillOpacity=fill, lineWidth=1, showPoints="never", spanNulls=True,
        legendDisplayMode="table" if len(targets) > 1 else "list", legendCalcs=["mean", "max", "lastNotNull"],
        tooltipMode="multi", tooltipSort="desc", stacking={"mode": "normal"} if stack else {},
        thresholdsStyleMode="dashed" if show_thresholds else "off",
        valueMin=0, valueMax=1 if max_one else None, extraJson=extra,
    )


def stat(title: str, description: str, targets: Sequence[PromTarget], *, unit: str, thresholds: list[dict],
         reduce: str = "lastNotNull", color_mode: str = "value", no_value: str = "no data",
         decimals: int | None = None, links: Sequence[dict] = ()) -> g.Stat:
    """A single big number per series, coloured by thresholds."""
    return g.Stat(**_common(title, description, targets, thresholds, links), format=unit,
                  reduceCalc=reduce, colorMode=color_mode, graphMode="area", textMode="value_and_name"
                  if len(targets) > 1 else "auto", noValue=no_value, decimals=decimals)


def piechart(title: str, description: str, targets: Sequence[PromTarget], *, unit: str,
             thresholds: list[dict]) -> g.PieChartv2:
    return g.PieChartv2(**_common(title, description, targets, thresholds, ()), unit=unit, pieType="donut",
                        legendDisplayMode="table", legendPlacement="right", legendValues=["value", "percent"],
                        reduceOptionsCalcs=["lastNotNull"])


def table(title: str, description: str, targets: Sequence[PromTarget], *, unit: str,
          thresholds: list[dict]) -> g.Table:
    """Instant-query table: one row per series, labels as columns."""
    return g.Table(**_common(title, description, targets, thresholds, ()), unit=unit,
                   transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True}}}])


@attr.s
class Heatmap(g.Panel):
    """Grafana 10+ heatmap over pre-bucketed Prometheus histograms (``format: heatmap``)."""

    unit = attr.ib(default="s")

    def to_json_data(self) -> dict:
        return self.panel_json({
            "type": "heatmap",
            "fieldConfig": {"defaults": {"unit": self.unit, "custom": {"scaleDistribution": {"type": "linear"}}}},
            "options": {
                "calculate": False,
                "cellGap": 1,
                "color": {"mode": "scheme", "scheme": "Oranges", "scale": "exponential", "exponent": 0.5,
                          "steps": 64, "fill": "dark-orange", "reverse": False},
                "exemplars": {"color": "rgba(255,0,255,0.7)"},
                "filterValues": {"le": 1e-9},
                "legend": {"show": True},
                "rowsFrame": {"layout": "auto"},
                "tooltip": {"mode": "single", "yHistogram": True},
                "yAxis": {"axisPlacement": "left", "unit": self.unit, "reverse": False},
            },
        })


def heatmap(title: str, description: str, expr: str, *, unit: str, thresholds: list[dict],
            links: Sequence[dict] = ()) -> Heatmap:
    """Bucket counts (``sum by (le) (increase(..._bucket[...]))``) with exemplars on."""
    return Heatmap(**_common(title, description, [target(expr, "{{le}}", exemplar=True, fmt="heatmap")],
                             thresholds, links), unit=unit)


@attr.s
class BarGauge(g.Panel):
    """Grafana 10+ bar gauge (grafanalib's emits the pre-7 ``fieldOptions``)."""

    unit = attr.ib(default="short")
    max_value = attr.ib(default=None)

    def to_json_data(self) -> dict:
        return self.panel_json({
            "type": "bargauge",
            "fieldConfig": {"defaults": {"unit": self.unit, "min": 0, "max": self.max_value,
                                         "color": {"mode": "thresholds"}}},
            "options": {"displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True,
                        "valueMode": "color", "namePlacement": "auto", "sizing": "auto",
                        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        })


def bargauge(title: str, description: str, targets: Sequence[PromTarget], *, unit: str,
             thresholds: list[dict], max_value: float | None = None) -> BarGauge:
    return BarGauge(**_common(title, description, targets, thresholds, ()), unit=unit, max_value=max_value)


def jaeger_link(service: str) -> dict:
    """Panel link: Explore with the Jaeger datasource (``$jaeger``) searching this service's traces."""
    pane = {"datasource": "${jaeger}",
            "queries": [{"refId": "A", "datasource": {"type": "jaeger", "uid": "${jaeger}"},
                         "queryType": "search", "service": service}],
            "range": {"from": "${__from}", "to": "${__to}"}}
    panes = json.dumps({"traces": pane}, separators=(",", ":"), sort_keys=True)
    return {"title": f"Traces of {service} in Jaeger", "targetBlank": True,
            "url": "/explore?schemaVersion=1&panes=" + urllib.parse.quote(panes, safe="${}_")}
