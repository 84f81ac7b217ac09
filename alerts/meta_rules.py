"""Stage 2: SLO metadata recording rules, exactly Sloth's names and labels.

Inputs: objective, window and labels of each SLO, plus stage 1's ``slo:sli_error:*`` series.
Output: one group per SLO, ``sloth-slo-meta-recordings-<sloth_id>``: ``slo:objective:ratio``,
``slo:error_budget:ratio``, ``slo:time_period:days``, ``slo:current_burn_rate:ratio`` (5m),
``slo:period_burn_rate:ratio``, ``slo:period_error_budget_remaining:ratio`` and ``sloth_slo_info``.
Numbers are exact decimals (99.9 → 0.001), not Sloth's ``1-0.9990000000000001``.
"""

from __future__ import annotations

from typing import Any

from agentwatch import __version__
from agentwatch import promql as q
from agentwatch.alerts import conventions as cv
from agentwatch.alerts.context import Context, decimal_text, group
from agentwatch.durations import parse_duration

__all__ = ["meta_rules", "slo_meta_rules"]

_ON = f"on ({cv.LABEL_ID}, {cv.LABEL_SLO}, {cv.LABEL_SERVICE}) group_left"


def meta_rules(ctx: Context) -> list[dict]:
    return [group(cv.GROUP_META.format(id=ctx.sloth_id(slo)), slo_meta_rules(ctx, slo, ctx.spec.version, __version__),
                  ctx.interval)
            for slo in ctx.spec.slos]


def slo_meta_rules(ctx: Context, slo: Any, spec_version: str, version: str, mode: str = "agentwatch") -> list[dict]:
    """One SLO's metadata rules; ``mode``/``spec_version``/``version`` fill ``sloth_slo_info``'s
    ``sloth_*`` labels (the rule-cost benchmark's Sloth baseline passes Sloth's)."""
    labels, sel = ctx.slo_labels(slo), ctx.slo_selector(slo)
    budget = q.series(cv.SLO_ERROR_BUDGET, sel)
    days = parse_duration(slo.window) / 86400
    info = dict(sorted({**labels, "sloth_mode": mode, "sloth_spec": spec_version, "sloth_version": version,
                        "sloth_objective": decimal_text(slo.objective_ratio * 100)}.items()))
    return [
        {"record": cv.SLO_OBJECTIVE, "expr": f"vector({decimal_text(slo.objective_ratio)})", "labels": labels},
        {"record": cv.SLO_ERROR_BUDGET, "expr": f"vector({decimal_text(slo.error_budget)})", "labels": labels},
        {"record": cv.SLO_TIME_PERIOD_DAYS, "expr": f"vector({decimal_text(days)})", "labels": labels},
        {"record": cv.SLO_CURRENT_BURN_RATE,
         "expr": f"{q.series(cv.sli_error_rule('5m'), sel)}\n/ {_ON}\n{budget}", "labels": labels},
        {"record": cv.SLO_PERIOD_BURN_RATE,
         "expr": f"{q.series(cv.sli_error_rule(slo.window), sel)}\n/ {_ON}\n{budget}", "labels": labels},
        {"record": cv.SLO_PERIOD_ERROR_BUDGET_REMAINING,
         "expr": f"1 - {q.series(cv.SLO_PERIOD_BURN_RATE, sel)}", "labels": labels},
        {"record": cv.SLO_INFO, "expr": "vector(1)", "labels": info},
    ]
