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

A raw ``error_ratio`` SLI (Sloth's ``raw``) is already a ratio: each window records the query
itself, and the period ratio falls back to Sloth's mean of the 5m ratios, because a ratio carries no
traffic volume to weight by. The rule's PromQL starts with a comment saying so.
"""

from __future__ import annotations

from agentwatch import promql as q
from agentwatch.alerts import conventions as cv
from agentwatch.alerts.context import Context, Rule, group
from agentwatch.spec.model import SLO
from agentwatch.telemetry import catalogue as c

__all__ = ["AVERAGED_PERIOD_NOTE", "error_and_total", "sli_rules"]


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
    assert raw is not None and raw.total is not None
    total = q.window_query(raw.total, window)
    if raw.bad is not None:
        return q.window_query(raw.bad, window), total
    return f"({total})\n-\n({q.window_query(raw.good, window)})", total


def _rule(record: str, expr: str, labels: dict[str, str]) -> Rule:
    return {"record": record, "expr": expr, "labels": labels}


#: The comment a raw error-ratio SLO's period rule starts with (PromQL comments survive into every form).
AVERAGED_PERIOD_NOTE = ("# Mean of the 5m error ratios (Sloth's averaging): this SLI is a precomputed ratio,\n"
                        "# which cannot be weighted by traffic like an events SLI.\n")


def _ratio_windows(ctx: Context, slo: SLO, labels: dict[str, str], sel: str) -> list[Rule]:
    """A raw ``error_ratio`` SLI: the query per window, and the period as the mean of 5m ratios."""
    query = slo.sli.raw.error_ratio if slo.sli.raw else None
    assert query is not None
    rules = [_rule(cv.sli_error_rule(window), q.window_query(query, ctx.d(window)),
                   dict(sorted({**labels, cv.LABEL_WINDOW: window}.items())))
             for window in cv.SLI_ERROR_WINDOWS]
    period = ctx.d(slo.window)
    five = cv.sli_error_rule("5m")
    mean = q.ratio(q.sum_over_time(five, sel, period), q.count_over_time(five, sel, period))
    rules.append(_rule(cv.sli_error_rule(slo.window), AVERAGED_PERIOD_NOTE + mean,
                       dict(sorted({**labels, cv.LABEL_WINDOW: slo.window}.items()))))
    return rules


def _event_windows(ctx: Context, slo: SLO, labels: dict[str, str], sel: str) -> list[Rule]:
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
    return rules


def sli_rules(ctx: Context) -> list[dict]:
    groups = []
    for slo in ctx.spec.slos:
        labels, sel = ctx.slo_labels(slo), ctx.slo_selector(slo)
        averaged = slo.sli.raw is not None and slo.sli.raw.error_ratio is not None
        rules = (_ratio_windows if averaged else _event_windows)(ctx, slo, labels, sel)
        groups.append(group(cv.GROUP_SLI.format(id=ctx.sloth_id(slo)), rules, ctx.interval))
    return groups
