"""What the lab reads back from its Prometheus after a scenario: timeline series and SLO totals.

Every query is built from the spec's SLOs and the catalogue with :mod:`agentwatch.promql`: the
messages route's request rate and p99, each SLO's burn rate over a short window
(``(1 - good ratio) / (1 - objective)``), each pod's raw queue length, and each SLO's good and
total events over the whole run (the budget it burned).

Usage::

    data = collect(prometheus, spec, lab_spec, start, end)
    data["totals"]["messages-latency"]      # {"total": ..., "bad": ..., "objective": 99.0}
"""

from __future__ import annotations

import math
from typing import Any

from agentwatch import promql as q
from agentwatch.local.processes import PrometheusServer
from agentwatch.spec import Spec
from agentwatch.spec.model import SLO, duration_seconds
from agentwatch.telemetry import catalogue as c

__all__ = ["collect"]


def _slo_queries(slo: SLO, sel_ns: str, window: str) -> tuple[str, str]:
    """(bad events, all events) of ``slo`` over ``window``."""
    sli = slo.sli.availability or slo.sli.latency
    if sli is None:
        raise ValueError(f"SLO {slo.name}: the lab reads availability and latency SLIs only")
    metric = c.by_name(sli.metric)
    sel = q.join_selectors(sel_ns, q.selector(**sli.matchers()))
    total = q.sum_by(q.increase(metric.count, sel, window))
    if slo.sli.availability is not None:
        bad_sel = q.join_selectors(sel, q.selector(code="~" + slo.sli.availability.bad_codes))
        bad = q.sum_by(q.increase(metric.count, bad_sel, window))
        return f"({bad}) or vector(0)", total
    good = q.sum_by(q.increase(metric.bucket, q.join_selectors(sel, q.selector(le=slo.sli.latency.le)), window))
    return f"{total} - ({good})", total


def _series(prometheus: PrometheusServer, expr: str, start: float, end: float, step: float,
            by: str | None = None) -> Any:
    result = prometheus.query_range(expr, start, end, step)

    def points(r: dict[str, Any]) -> list[list[float]]:
        return [[float(t) - start, v] for t, raw in r["values"] if math.isfinite(v := float(raw))]

    if by is None:
        return points(result[0]) if result else []
    return {r["metric"].get(by, ""): points(r) for r in result}


def collect(prometheus: PrometheusServer, spec: Spec, lab: Spec, start: float, end: float) -> dict[str, Any]:
    """Timeline series (seconds since ``start``) and per-SLO totals over ``[start, end]``."""
    auto = lab.autoscaling
    assert auto is not None
    namespace = auto.namespace
    scrape = duration_seconds(auto.scrape_interval)
    step = max(5.0, scrape)
    short = f"{int(max(30.0, 4 * scrape))}s"
    sel_ns = q.selector(namespace=namespace)
    route = next((s.sli.availability or s.sli.latency).route for s in spec.slos  # type: ignore[union-attr]
                 if (s.sli.availability or s.sli.latency) is not None)
    messages = q.join_selectors(sel_ns, q.selector(route=route)) if route else sel_ns
    data: dict[str, Any] = {"step": step, "window": short, "series": {}, "totals": {}}
    series = data["series"]
    series["queue_by_pod"] = _series(prometheus, q.sum_by(q.series(c.QUEUE_LENGTH.name, sel_ns), ("pod",)),
                                     start, end, step, by="pod")
    series["inflight_by_pod"] = _series(prometheus, q.sum_by(q.series(c.INFLIGHT_REQUESTS.name, sel_ns), ("pod",)),
                                        start, end, step, by="pod")
    series["served_rate"] = _series(prometheus, q.request_rate(messages, short), start, end, step)
    series["server_p99"] = _series(prometheus, q.histogram_quantile(0.99, c.REQUEST_DURATION, messages, short),
                                   start, end, step)
    duration = f"{max(1, int(end - start))}s"
    for slo in spec.slos:
        if slo.sli.raw is not None:
            continue
        budget = 1 - slo.objective / 100
        bad, total = _slo_queries(slo, sel_ns, short)
        series[f"burn:{slo.name}"] = _series(prometheus, f"({bad}) / ({total} > 0) / {budget:g}", start, end, step)
        bad_all, total_all = _slo_queries(slo, sel_ns, duration)
        values = {}
        for key, expr in (("bad", bad_all), ("total", total_all)):
            result = prometheus.query(expr, at=end)
            values[key] = float(result[0]["value"][1]) if result else 0.0
        data["totals"][slo.name] = {**values, "objective": slo.objective}
    return data
