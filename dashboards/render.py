"""Render a generated dashboard from live Prometheus data to one PNG, on the dashboard's own grid.

Each panel's queries are interpolated as Grafana would (``grafana.resolve_variables``), run by
``panel_data.query_panel``, and drawn with matplotlib in a Grafana-like dark theme: time series
as lines, heatmaps as bucket-by-time cells, stats as numbers coloured by the panel's thresholds,
bar gauges and pies from the last values, tables from instant queries. The result lists what each
panel drew, so a caller (or test) can tell an empty panel from a full one.

Usage::

    from agentwatch.dashboards.render import render_dashboard
    results = render_dashboard(dashboard_json, PrometheusAPI(url), TimeContext(end=time.time()), "out.png")
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap

from agentwatch.dashboards import units
from agentwatch.dashboards.grafana import TimeContext, resolve_variables
from agentwatch.dashboards.panel_data import PanelResult, Series, query_panel
from agentwatch.prometheus_api import PrometheusAPI

__all__ = ["PanelResult", "Series", "query_panel", "render_dashboard"]  # query side re-exported

BG, PANEL_BG, TEXT, GRID = "#111217", "#181b1f", "#ccccdc", "#2c3235"
PALETTE = ["#73bf69", "#f2cc0c", "#5794f2", "#ff780a", "#f2495c", "#b877d9", "#8ab8ff", "#fade2a",
           "#56a64b", "#ff9830", "#e0b400", "#a352cc"]
COLORS = {"green": "#73bf69", "red": "#f2495c", "orange": "#ff9830", "yellow": "#fade2a", "blue": "#5794f2",
          "dark-red": "#c4162a", "purple": "#b877d9"}
HEAT = LinearSegmentedColormap.from_list("grafana-oranges", ["#4a2a0a", "#ff9830", "#fff1d6"])
COL_IN, ROW_IN = 0.75, 0.3  # inches per grid column / per grid row (Grafana: ~75 px x 30 px)


# --- drawing ----------------------------------------------------------------------------------


def _threshold_color(value: float | None, steps: Sequence[Mapping[str, Any]]) -> str:
    color = steps[0]["color"] if steps else "green"
    for step in steps[1:]:
        if value is not None and step["value"] is not None and value >= step["value"]:
            color = step["color"]
    return COLORS.get(color, color)


def _style(ax: Axes) -> None:
    ax.set_facecolor(PANEL_BG)
    ax.tick_params(colors=TEXT, labelsize=6)
    for spine in ax.spines.values():
        spine.set_color(GRID)
    ax.grid(color=GRID, linewidth=0.4)


def _draw_timeseries(ax: Axes, res: PanelResult, unit: str, steps: Sequence[Mapping[str, Any]],
                     show_thresholds: bool) -> None:
    _style(ax)
    times = [t for s in res.series for t, _ in s.points]
    span_s = max(times) - min(times) if times else 0
    for i, s in enumerate(res.series[:12]):
        xs = [datetime.fromtimestamp(t, UTC) for t, _ in s.points]
        ax.plot(xs, [v for _, v in s.points], color=PALETTE[i % len(PALETTE)], linewidth=1, label=s.legend[:40])
    if show_thresholds:  # like Grafana, a threshold outside the data's range does not stretch the axis
        low, high = ax.get_ylim()
        for step in steps[1:]:
            ax.axhline(step["value"], color=COLORS.get(step["color"], step["color"]), linestyle="--",
                       linewidth=0.7)
        ax.set_ylim(low, high)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=6))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if span_s > 900 else "%H:%M:%S"))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: units.format_value(v, unit)))
    if res.series:
        ax.legend(fontsize=5, loc="upper left", facecolor=PANEL_BG, edgecolor=GRID, labelcolor=TEXT, ncol=2)


def _bucket_counts(series: Sequence[Series]) -> tuple[list[str], list[list[float]], list[float]]:
    """Cumulative ``le`` series → per-bucket counts per timestamp (what Grafana's heatmap shows)."""
    ordered = sorted(series, key=lambda s: float(s.labels.get("le", "inf").replace("+Inf", "inf")))
    times = [t for t, _ in ordered[0].points] if ordered else []
    by_time = [dict(s.points) for s in ordered]
    rows, previous = [], [0.0] * len(times)
    for points in by_time:
        current = [points.get(t, float("nan")) for t in times]
        rows.append([max(0.0, c - p) if not (math.isnan(c) or math.isnan(p)) else 0.0
                     for c, p in zip(current, previous, strict=True)])
        previous = current
    return [s.labels.get("le", "?") for s in ordered], rows, times


def _draw_heatmap(ax: Axes, res: PanelResult, unit: str) -> None:
    _style(ax)
    labels, rows, times = _bucket_counts(res.series)
    if not rows:
        return
    masked = [[v if v > 0 else float("nan") for v in row] for row in rows]  # empty cells stay dark
    ax.imshow(masked, aspect="auto", origin="lower", cmap=HEAT, interpolation="nearest",
              extent=(0, len(times), 0, len(labels)))
    ax.set_yticks([i + 0.5 for i in range(len(labels))][::2])
    ax.set_yticklabels([units.format_le(le, unit) for le in labels][::2])
    ax.set_xticks([])


def _draw_stat(ax: Axes, res: PanelResult, unit: str, steps: Sequence[Mapping[str, Any]], decimals: Any) -> None:
    ax.set_facecolor(PANEL_BG)
    ax.set_xticks([])
    ax.set_yticks([])
    shown = [s for s in res.series if s.last is not None][:4]
    for i, s in enumerate(shown):
        y = 1 - (i + 0.5) / max(1, len(shown))
        ax.text(0.5, y, units.format_value(s.last, unit, decimals), ha="center", va="center",
                fontsize=16 if len(shown) == 1 else 10, fontweight="bold", color=_threshold_color(s.last, steps),
                transform=ax.transAxes)
        if len(shown) > 1:
            ax.text(0.5, y - 0.42 / len(shown), s.legend[:40], ha="center", va="center", fontsize=6, color=TEXT,
                    transform=ax.transAxes)


def _draw_bars(ax: Axes, res: PanelResult, unit: str, steps: Sequence[Mapping[str, Any]], heatmap: bool) -> None:
    _style(ax)
    if heatmap:
        labels, rows, _ = _bucket_counts(res.series)
        names = [f"≤ {units.format_le(le, unit)}" for le in labels]
        values = [row[-1] if row else 0.0 for row in rows]  # the last point: the increase over the range
    else:
        names = [s.legend for s in res.series]
        values = [s.last or 0.0 for s in res.series]
    ax.barh(range(len(values)), values, color=[_threshold_color(v, steps) for v in values])
    ax.set_yticks(range(len(values)))
    ax.set_yticklabels(names, fontsize=6)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: units.format_value(v, unit)))


def _draw_pie(ax: Axes, res: PanelResult) -> None:
    ax.set_facecolor(PANEL_BG)
    items = [(s.legend, s.last or 0.0) for s in res.series if (s.last or 0.0) > 0]
    if items:
        ax.pie([v for _, v in items], labels=[f"{n} ({v:.0f})" for n, v in items],
               colors=PALETTE[: len(items)], textprops={"color": TEXT, "fontsize": 6},
               wedgeprops={"width": 0.45})


def _draw_table(ax: Axes, res: PanelResult) -> None:
    ax.set_facecolor(PANEL_BG)
    ax.axis("off")
    rows = [s.labels for s in res.series][:8]
    if not rows:
        return
    columns = sorted({k for r in rows for k in r if k != "__name__"})[:8]
    table = ax.table(cellText=[[r.get(col, "") for col in columns] for r in rows], colLabels=columns,
                     loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(5)
    for cell in table.get_celld().values():
        cell.set_facecolor(PANEL_BG)
        cell.set_edgecolor(GRID)
        cell.get_text().set_color(TEXT)


def _draw(ax: Axes, panel: Mapping[str, Any], res: PanelResult) -> None:
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    unit, steps = defaults.get("unit", ""), defaults.get("thresholds", {}).get("steps", [])
    kind = panel["type"]
    if res.empty:
        ax.set_facecolor(PANEL_BG)
        ax.set_xticks([])
        ax.set_yticks([])
        reason = "needs Kubernetes" if res.needs_kubernetes else "no data"
        ax.text(0.5, 0.5, defaults.get("noValue") or reason, ha="center", va="center", color="#8e8e8e",
                fontsize=8, transform=ax.transAxes)
    elif kind == "timeseries":
        mode = defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode", "off")
        _draw_timeseries(ax, res, unit, steps, mode != "off")
    elif kind == "heatmap":
        _draw_heatmap(ax, res, defaults.get("unit") or panel.get("options", {}).get("yAxis", {}).get("unit", ""))
    elif kind == "stat":
        _draw_stat(ax, res, unit, steps, defaults.get("decimals"))
    elif kind == "bargauge":
        heat = any(t.get("format") == "heatmap" for t in panel.get("targets", []))
        _draw_bars(ax, res, unit, steps, heat)
    elif kind == "piechart":
        _draw_pie(ax, res)
    else:
        _draw_table(ax, res)
    ax.set_title(res.title, loc="left", fontsize=8, color=TEXT, pad=3)


def render_dashboard(dashboard: Mapping[str, Any], client: PrometheusAPI, ctx: TimeContext,
                     out: str | Path) -> list[PanelResult]:
    """Query and draw every panel of ``dashboard`` to the PNG ``out``; returns one result per panel."""
    values = resolve_variables(dashboard, client, ctx)
    panels = dashboard["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels) + 2
    fig = plt.figure(figsize=(24 * COL_IN, rows * ROW_IN), facecolor=BG)
    fig.text(0.01, 1 - 0.6 / rows, dashboard["title"], color=TEXT, fontsize=13, fontweight="bold", va="top")
    results = []
    for panel in panels:
        pos = panel["gridPos"]
        top = (pos["y"] + 2) / rows
        if panel["type"] == "row":
            fig.text(0.01, 1 - top - 0.5 / rows, panel["title"], color=TEXT, fontsize=10, fontweight="bold",
                     va="center")
            continue
        pad_x, pad_y = 0.12 / 24, 1.3 / rows
        # Room on the left for tick labels where the panel has a y axis.
        left = 0.03 if panel["type"] in ("timeseries", "heatmap", "bargauge") else 0.0
        left = min(left, pos["w"] / 24 * 0.3)
        ax = fig.add_axes((pos["x"] / 24 + pad_x * 3 + left, 1 - top - pos["h"] / rows + pad_y * 0.4,
                           pos["w"] / 24 - pad_x * 5 - left, pos["h"] / rows - pad_y))
        result = query_panel(panel, client, ctx, values)
        _draw(ax, panel, result)
        results.append(result)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, facecolor=BG)
    plt.close(fig)
    return results
