"""Stage 3: multi-window multi-burn-rate alerts (SRE workbook), one rule per tier.

Inputs: stage 1's ``slo:sli_error:ratio_rate*`` series, the SLO's alert settings and the tier table
of its period (``windows/<period>.yaml``). Output: one group per SLO, ``sloth-slo-alerts-<id>``.

Each tier fires when the error ratio over the long *and* the short window exceeds
``factor * error budget``; the page and ticket alerts share a name per severity (Sloth's
layout), and the labels ``long``/``short`` tell the tiers apart (kubernetes-mixin's layout).
The alert value is the long-window burn rate.

Zero traffic: a window without traffic has no sample, so it can never start an alert. Nor can it
end one: while the short window has no traffic and the long window still burns, a firing alert
stays firing (it references its own ``ALERTS`` series) instead of resolving for lack of data.
"""

from __future__ import annotations

from typing import Any

from agentwatch import promql as q
from agentwatch.alerts import conventions as cv
from agentwatch.alerts.context import Context, Rule, camel, decimal_text, group
from agentwatch.alerts.windows import Tier, tiers
from agentwatch.spec.model import SLO

__all__ = ["BUDGET_LEFT_TEMPLATE", "VALUE_TEMPLATE", "alert_labels", "alert_name", "annotations",
           "runbook_url", "slo_alerts"]

RUNBOOK_BASE = "https://github.com/agentwatch/agentwatch/blob/main/alerts/README.md"


def alert_name(slo: SLO, severity: str) -> str:
    """Per-severity name, else the SLO's alert name, else ``AgentWatch<Slo>BudgetBurn``."""
    settings = getattr(slo.alerting, severity)
    return settings.name or slo.alerting.name or f"{cv.ALERT_PREFIX}{camel(slo.name)}BudgetBurn"


def runbook_url(slo: SLO) -> str:
    return slo.alerting.runbook_url or f"{RUNBOOK_BASE}#{slo.name}"


def _burn(ctx: Context, slo: SLO, window: str) -> str:
    ratio = q.series(cv.sli_error_rule(window), ctx.slo_selector(slo))
    return f"{q.without([cv.LABEL_WINDOW], ratio)} / {decimal_text(slo.error_budget)}"


def _expr(ctx: Context, slo: SLO, tier: Tier, name: str) -> str:
    factor = decimal_text(tier.factor)
    long_burn = f"{_burn(ctx, slo, tier.long)} > {factor}"
    short_burn = f"{_burn(ctx, slo, tier.short)} > {factor}"
    firing = q.series("ALERTS", q.selector(alertname=name, alertstate="firing",
                                           **{cv.LABEL_ID: ctx.sloth_id(slo),
                                              cv.LABEL_SEVERITY: tier.severity, "long": tier.long}))
    short_ratio = q.series(cv.sli_error_rule(tier.short), ctx.slo_selector(slo))
    return (f"(\n  {long_burn}\n  and\n  {short_burn}\n)\nor\n"
            f"(\n  {long_burn}\n  and on ({cv.LABEL_ID})\n  {firing}\n"
            f"  unless on ({cv.LABEL_ID})\n  {short_ratio}\n)")


#: Template snippets of the real rules; the unit-test generator passes rendered values instead.
VALUE_TEMPLATE = '{{ printf "%.1f" $value }}'
BUDGET_LEFT_TEMPLATE = (f'{{{{ with printf `{cv.SLO_PERIOD_ERROR_BUDGET_REMAINING}{{{cv.LABEL_ID}="%s"}}` '
                        f'$labels.{cv.LABEL_ID} | query }}}}{{{{ . | first | value | humanizePercentage }}}}'
                        '{{ else }}unknown{{ end }}')


def annotations(ctx: Context, slo: SLO, tier: Tier, value: str = VALUE_TEMPLATE,
                budget_left: str = BUDGET_LEFT_TEMPLATE) -> dict[str, str]:
    """Summary, description and runbook of a tier's alert (user annotations override them)."""
    objective = decimal_text(slo.objective_ratio * 100)
    own = {
        "summary": (f"{ctx.spec.service.name} {slo.name}: error budget burning {value}x too fast "
                    f"({tier.severity})"),
        "description": (f"The {slo.name} SLO ({objective}% over {slo.window}) burned its error budget at "
                        f"{value}x the sustainable rate over the last {tier.long}, and over {tier.short} "
                        f"too (threshold {decimal_text(tier.factor)}x, "
                        f"{decimal_text(tier.budget_percent)}% of the budget). "
                        f"Error budget left this {slo.window}: {budget_left}."),
        "runbook_url": runbook_url(slo),
    }
    settings = getattr(slo.alerting, tier.severity)
    return dict(sorted({**own, **slo.alerting.annotations, **settings.annotations}.items()))


def alert_labels(ctx: Context, slo: SLO, tier: Tier) -> dict[str, str]:
    """Labels the rule adds: the user's, then severity, SLO identity and the tier's windows."""
    settings = getattr(slo.alerting, tier.severity)
    labels: dict[str, str] = {**slo.alerting.labels, **settings.labels}
    labels.update({"severity": tier.severity, cv.LABEL_SEVERITY: tier.severity, "slo": slo.name,
                   "service": ctx.spec.service.name, "long": tier.long, "short": tier.short})
    return dict(sorted(labels.items()))


def _alert(ctx: Context, slo: SLO, tier: Tier) -> Rule | None:
    settings = getattr(slo.alerting, tier.severity)
    if settings.disable:
        return None
    name = alert_name(slo, tier.severity)
    rule: dict[str, Any] = {"alert": name, "expr": _expr(ctx, slo, tier, name), "for": ctx.d(tier.for_),
                            "labels": alert_labels(ctx, slo, tier),
                            "annotations": annotations(ctx, slo, tier)}
    return rule


def slo_alerts(ctx: Context) -> list[dict]:
    groups = []
    for slo in ctx.spec.slos:
        rules = [r for t in tiers(slo.window) if (r := _alert(ctx, slo, t)) is not None]
        if rules:
            groups.append(group(cv.GROUP_ALERTS.format(id=ctx.sloth_id(slo)), rules, ctx.interval))
    return groups
