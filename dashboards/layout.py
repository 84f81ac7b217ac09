"""Place panels on Grafana's 24-column grid: rows of sections, panels left to right, wrapping.

Layout is data (``Section(title, [Cell(panel, w, h), ...])``); ``place`` assigns ``gridPos`` and
sequential panel ids, so ids and positions are stable and never overlap. ``emitted_only`` drops,
before placing, every panel that reads a catalogue metric of a group the service does not emit
(and every row left empty), so a service's dashboards show only what it records.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import attr
from grafanalib import core as g

from agentwatch.telemetry import catalogue as c

__all__ = ["GRID_COLUMNS", "Cell", "Section", "emitted_only", "metric_groups", "place"]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_SERIES = {name: m for m in c.METRICS for name in (m.name, *m.series_names)}

GRID_COLUMNS = 24


@dataclass(frozen=True)
class Cell:
    """A panel and its size in grid units (width of 24 columns, height in 30 px rows)."""

    panel: g.Panel
    w: int = 12
    h: int = 8
    #: Metric groups the panel needs besides those its queries name (it reads recording rules
    #: derived from them), so ``emitted_only`` drops it with them.
    needs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Section:
    """A titled row of cells."""

    title: str
    cells: Sequence[Cell]


def place(sections: Sequence[Section]) -> list[g.Panel]:
    """Return row panels and panels with ``gridPos`` and ``id`` set, top to bottom."""
    panels: list[g.Panel] = []
    y = 0
    next_id = 1
    for section in sections:
        panels.append(g.RowPanel(title=section.title, id=next_id, collapsed=False,
                                 gridPos=g.GridPos(h=1, w=GRID_COLUMNS, x=0, y=y)))
        next_id += 1
        y += 1
        x, row_height = 0, 0
        for cell in section.cells:
            if not 0 < cell.w <= GRID_COLUMNS:
                raise ValueError(f"panel {cell.panel.title!r}: width {cell.w} is not in 1..{GRID_COLUMNS}")
            if x + cell.w > GRID_COLUMNS:
                x, y, row_height = 0, y + row_height, 0
            panels.append(attr.evolve(cell.panel, id=next_id,
                                      gridPos=g.GridPos(h=cell.h, w=cell.w, x=x, y=y)))
            next_id += 1
            x += cell.w
            row_height = max(row_height, cell.h)
        y += row_height
    return panels


def metric_groups(panel: g.Panel) -> set[str]:
    """Groups (``catalogue.METRIC_GROUPS``) of the catalogue metrics the panel's queries read."""
    exprs = [getattr(t, "expr", "") for t in getattr(panel, "targets", None) or ()]
    return {_SERIES[name].group for expr in exprs for name in _NAME.findall(expr) if name in _SERIES}


def emitted_only(sections: Sequence[Section], groups: Collection[str]) -> list[Section]:
    """``sections`` without the panels that read a group outside ``groups``, and without empty rows."""
    kept = [Section(s.title, [cell for cell in s.cells if metric_groups(cell.panel) | cell.needs <= set(groups)])
            for s in sections]
    return [s for s in kept if s.cells]
