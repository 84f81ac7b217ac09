"""The load file ``agentwatch hpa-sim`` replays: ``time_s,<metric>,...``, one column per Pods metric.

A *count* metric (queue length, requests in flight) is the service-wide total, which the replay
spreads evenly over the pods that take traffic; an *average* metric (inference time) is what
every such pod reports. Values hold until the next row. Which kind a column is comes from the
adapter rules agentwatch generates (:func:`agentwatch.k8s.adapter.adapter_metric_kinds`); any
other name is an average when it ends in a unit of time or a ratio (``_seconds``,
``_seconds_mean``, ``_ratio``) and a count otherwise.

Usage::

    load = read_load("load.csv", ["agent_queue_length"])
    load.value("agent_queue_length", 37.0)     # the row at or before t = 37 s
    write_load("load.csv", load)
"""

from __future__ import annotations

import bisect
import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agentwatch.spec.loader import Issue, SpecError

__all__ = ["Load", "load_from_text", "metric_kind", "read_load", "write_load"]

Kind = Literal["count", "average"]
_AVERAGE_SUFFIX = re.compile(r"_(seconds|seconds_mean|seconds_avg|ratio)$")


def metric_kind(name: str) -> Kind:
    """Whether a Pods metric is a count (spread over pods) or an average (the same on every pod)."""
    from agentwatch.k8s.adapter import adapter_metric_kinds

    known = adapter_metric_kinds()
    if name in known:
        return known[name]
    return "average" if _AVERAGE_SUFFIX.search(name) else "count"


@dataclass(frozen=True)
class Load:
    """Rows of ``(time_s, {metric: value})`` in time order."""

    times: tuple[float, ...]
    columns: dict[str, tuple[float, ...]]

    @property
    def end(self) -> float:
        return self.times[-1] if self.times else 0.0

    def value(self, metric: str, t: float) -> float | None:
        """The value in force at ``t`` (None before the first row)."""
        i = bisect.bisect_right(self.times, t) - 1
        if i < 0:
            return None
        return self.columns[metric][i]


def load_from_text(text: str, file: str, metrics: Sequence[str]) -> Load:
    """Parse CSV text; every metric of ``metrics`` must be a column (an error names the missing one)."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not rows[0]:
        raise SpecError([Issue(file, 1, "(header)", "the load file is empty (allowed: a header "
                                                    "time_s,<metric>,... then one row per time)")])
    header = [h.strip() for h in rows[0]]
    if header[0] != "time_s":
        raise SpecError([Issue(file, 1, "(header)", f"the first column is {header[0]!r} (allowed: time_s)")])
    missing = [m for m in metrics if m not in header]
    if missing:
        raise SpecError([Issue(file, 1, m, f"the HPA's Pods metric {m!r} has no column (columns: "
                                           f"{', '.join(header[1:]) or 'none'})") for m in missing])
    times: list[float] = []
    columns: dict[str, list[float]] = {m: [] for m in header[1:]}
    issues = []
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            issues.append(Issue(file, number, "(row)", f"{len(row)} values for {len(header)} columns"))
            continue
        values = []
        for name, cell in zip(header, row, strict=True):
            try:
                value = float(cell)
            except ValueError:
                issues.append(Issue(file, number, name, f"{cell!r} is not a number"))
                break
            if not math.isfinite(value) or value < 0:
                issues.append(Issue(file, number, name, f"{cell!r} is not a finite value >= 0"))
                break
            values.append(value)
        else:
            if times and values[0] < times[-1]:
                issues.append(Issue(file, number, "time_s", f"time {values[0]:g} is before the previous row's "
                                                            f"{times[-1]:g} (allowed: rows in time order)"))
                continue
            times.append(values[0])
            for name, value in zip(header[1:], values[1:], strict=True):
                columns[name].append(value)
    if issues:
        raise SpecError(issues)
    if not times:
        raise SpecError([Issue(file, 1, "(rows)", "the load file has a header but no rows")])
    return Load(tuple(times), {k: tuple(v) for k, v in columns.items()})


def read_load(path: str | Path, metrics: Sequence[str]) -> Load:
    """Read a load CSV from disk (see :func:`load_from_text`)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SpecError([Issue(str(path), 0, "(file)", f"cannot read the load file: {exc.strerror}")]) from None
    return load_from_text(text, str(path), metrics)


def write_load(path: str | Path, load: Load) -> None:
    """Write ``load`` as CSV (values with up to 6 significant decimals)."""
    names = list(load.columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time_s", *names])
    for i, t in enumerate(load.times):
        writer.writerow([f"{t:g}", *(f"{load.columns[n][i]:.6g}" for n in names)])
    Path(path).write_text(out.getvalue())
