"""Stage 1: SLI recording rules, ``slo:sli_error:ratio_rate<window>`` per SLO (Sloth's names).

Inputs: each SLO's SLI (availability, latency or raw PromQL). Output: one group per SLO,
``sloth-slo-sli-recordings-<sloth_id>``, recording

* ``slo:sli_error_events:rate5m`` / ``slo:sli_total_events:rate5m``: bad and all events per second;
* ``slo:sli_error:ratio_rate{5m,30m,1h,2h,6h,1d,3d}``: ``sum(rate(bad[w])) / sum(rate(total[w]))``
  straight from the raw counters, so every window is weighted by its traffic;
* ``slo:sli_error:ratio_rate<period>``: ``sum_over_time`` of the 5m bad rate over the period divided
  by ``sum_over_time`` of the 5m total rate — total bad / total events, not Sloth's mean of 5m
  ratios (which weighs a quiet night like a busy noon).

A window without traffic records no sample (the denominator is filtered by ``> 0``), never NaN.
"""

from __future__ import annotations

from agentwatch import promql as q
from agentwatch.alerts import conventions as cv
from agentwatch.alerts.context import Context, Rule, group
from agentwatch.spec.model import SLO
from agentwatch.telemetry import catalogue as c

__all__ = ["error_and_total", "sli_rules"]


def error_and_total(ctx: Context, slo: SLO, window: str) -> tuple[str, str]:
    """PromQL of (bad events/s, all events/s) of ``slo`` over ``window`` (already scaled)."""
    sli, sel = slo.sli, ctx.sli_selector(slo)
    if sli.availability:
        metric = c.by_name(sli.availability.metric)
        total = q.sum_by(q.rate(metric.count, sel, window))
        return q.bad_request_rate(metric, sel, window, sli.availability.bad_codes), total
    if sli.latency:
        metric = c.by_name(sli.latency.metric)
        total = q.sum_by(q.rate(metric.count, sel, window))
        return q.slow_request_rate(metric, sel, window, sli.latency.le), total
    raw = sli.raw
    assert raw is not None
    total = q.window_query(raw.total, window)
    if raw.bad is not None:
        return q.window_query(raw.bad, window), total
    return f"({total})\n-\n({q.window_query(raw.good, window)})", total


def _rule(record: str, expr: str, labels: dict[str, str]) -> Rule:
    return {"record": record, "expr": expr, "labels": labels}


def sli_rules(ctx: Context) -> list[dict]:
    groups = []
    for slo in ctx.spec.slos:
        labels = ctx.slo_labels(slo)
        sel = ctx.slo_selector(slo)
        at = dict(sorted({**labels, cv.LABEL_WINDOW: "5m"}.items()))
        bad5, total5 = error_and_total(ctx, slo, ctx.d("5m"))
        rules = [
            _rule(cv.SLI_ERROR_EVENTS_RATE, bad5, at),
            _rule(cv.SLI_TOTAL_EVENTS_RATE, total5, at),
            _rule(cv.sli_error_rule("5m"),
                  q.ratio(q.series(cv.SLI_ERROR_EVENTS_RATE, sel), q.series(cv.SLI_TOTAL_EVENTS_RATE, sel)), at),
        ]
        for window in cv.SLI_ERROR_WINDOWS[1:]:
            bad, total = error_and_total(ctx, slo, ctx.d(window))
            rules.append(_rule(cv.sli_error_rule(window), q.ratio(bad, total),
                               dict(sorted({**labels, cv.LABEL_WINDOW: window}.items()))))
        period = ctx.d(slo.window)
        rules.append(_rule(cv.sli_error_rule(slo.window),
                           q.ratio(q.sum_over_time(cv.SLI_ERROR_EVENTS_RATE, sel, period),
                                   q.sum_over_time(cv.SLI_TOTAL_EVENTS_RATE, sel, period)),
                           dict(sorted({**labels, cv.LABEL_WINDOW: slo.window}.items()))))
        groups.append(group(cv.GROUP_SLI.format(id=ctx.sloth_id(slo)), rules, ctx.interval))
    return groups
