"""Build an ``hpa-sim`` load from a live Prometheus with the adapter's own queries.

For each Pods metric of the HPA, the generated adapter rule whose ``name.as`` is that metric is
rendered as prometheus-adapter renders it (:func:`agentwatch.k8s.adapter.render_metrics_query`)
for every pod of the HPA's namespace seen in the window, and run as a range query. A count
metric's column is the sum over pods at each step; an average metric's is the mean over the pods
that reported a non-zero value (pods that served nothing report 0 and would dilute it).

Usage::

    load = load_from_prometheus("http://127.0.0.1:9090", hpa_spec, spec, "1h", step=15)
"""

from __future__ import annotations

import time
from typing import Any

from agentwatch.autoscaling.hpa import HPASpec
from agentwatch.autoscaling.load import Load, metric_kind
from agentwatch.k8s.adapter import adapter_rules, render_metrics_query
from agentwatch.prometheus_api import PrometheusAPI, PrometheusError
from agentwatch.spec.model import Spec, duration_seconds

__all__ = ["load_from_prometheus", "query_range"]


def query_range(url: str, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    """``/api/v1/query_range`` → the result list; an unreachable server or a bad query is a ValueError."""
    try:
        return PrometheusAPI(url, timeout=30).query_range(expr, start, end, step)
    except PrometheusError as exc:
        raise ValueError(str(exc)) from None


def load_from_prometheus(url: str, hpa: HPASpec, spec: Spec, since: str, step: float = 15.0,
                         end: float | None = None) -> Load:
    """The load of the ``since`` (e.g. ``1h``) before ``end`` (default now) at ``step`` seconds, one
    column per Pods metric; time 0 is ``end - since``."""
    try:
        window = duration_seconds(since)
    except ValueError:
        raise ValueError(f"--since {since!r} is not a duration (allowed: e.g. 90s, 30m, 1h)") from None
    rules = {rule["name"]["as"]: rule for rule in adapter_rules(spec)}
    end = time.time() if end is None else end
    start = end - window
    columns: dict[str, dict[float, float]] = {}
    for metric in hpa.metrics:
        rule = rules.get(metric.name)
        if rule is None:
            raise ValueError(f"the HPA's metric {metric.name!r} is not one the spec's adapter rules expose "
                             f"(allowed: {', '.join(rules)})")
        series = rule["seriesQuery"].split("{", 1)[0]
        pods = sorted({s["metric"]["pod"] for s in query_range(
            url, f'count by (pod) ({series}{{namespace="{hpa.namespace}",pod!=""}})', start, end, step)})
        values: dict[float, list[float]] = {}
        if pods:
            for result in query_range(url, render_metrics_query(rule, hpa.namespace, pods), start, end, step):
                for ts, value in result["values"]:
                    values.setdefault(float(ts), []).append(float(value))
        if metric_kind(metric.name) == "count":
            columns[metric.name] = {ts: sum(v) for ts, v in values.items()}
        else:
            columns[metric.name] = {ts: (sum(x for x in v if x > 0) / n if (n := sum(1 for x in v if x > 0)) else 0.0)
                                    for ts, v in values.items()}
    stamps = sorted({ts for col in columns.values() for ts in col})
    if not stamps:
        raise ValueError(f"Prometheus at {url} has no samples of {', '.join(m.name for m in hpa.metrics)} in "
                         f"namespace {hpa.namespace!r} over the last {since}")
    return Load(tuple(ts - start for ts in stamps),
                {name: tuple(col.get(ts, 0.0) for ts in stamps) for name, col in columns.items()})
