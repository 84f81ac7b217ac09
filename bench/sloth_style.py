"""Sloth's rules for an agentwatch spec, as ``sloth generate`` writes them: the rule-cost baseline.

Same group, record and label names as Sloth's generated examples (``examples/_gen/`` of
slok/sloth): per SLO a group ``sloth-slo-sli-recordings-<id>`` with
``slo:sli_error:ratio_rate{5m,30m,1h,2h,6h,1d,3d}`` computed from the raw counters and the
*optimized* period window ``slo:sli_error:ratio_rate30d`` = ``sum_over_time`` / ``count_over_time``
of the 5m ratio (a mean of 5-minute ratios: cheap, but not weighted by traffic); a group
``sloth-slo-meta-recordings-<id>`` with the objective, budget, burn rates and info; a group
``sloth-slo-alerts-<id>`` with one page and one ticket alert, each two multi-window conditions.
The raw bad/total queries are agentwatch's own (:func:`agentwatch.alerts.sli_rules.error_and_total`),
so both rule sets read the very same series. Written for the benchmark, not as a Sloth clone.
"""

from __future__ import annotations

from agentwatch import promql as q
from agentwatch.alerts import conventions as cv
from agentwatch.alerts.context import Context, camel, decimal_text, group
from agentwatch.alerts.meta_rules import slo_meta_rules
from agentwatch.alerts.sli_rules import error_and_total
from agentwatch.alerts.windows import tiers
from agentwatch.artefacts import dump_yaml
from agentwatch.spec.model import Spec

__all__ = ["sloth_rules"]


def _sli_group(ctx: Context, slo) -> dict:
    labels, sel = ctx.slo_labels(slo), ctx.slo_selector(slo)
    rules = []
    for window in cv.SLI_ERROR_WINDOWS:
        bad, total = error_and_total(ctx, slo, window)
        rules.append({"record": cv.sli_error_rule(window), "expr": f"({bad})\n/\n({total})",
                      "labels": {**labels, cv.LABEL_WINDOW: window}})
    five = q.series(cv.sli_error_rule("5m"), sel)
    rules.append({"record": cv.sli_error_rule(slo.window),
                  "expr": f"sum_over_time({five}[{slo.window}])\n/ ignoring ({cv.LABEL_WINDOW})\n"
                          f"count_over_time({five}[{slo.window}])",
                  "labels": {**labels, cv.LABEL_WINDOW: slo.window}})
    return group(cv.GROUP_SLI.format(id=ctx.sloth_id(slo)), rules)


def _meta_group(ctx: Context, slo) -> dict:
    return group(cv.GROUP_META.format(id=ctx.sloth_id(slo)),
                 slo_meta_rules(ctx, slo, "prometheus/v1", "bench", mode="cli-gen-prom"))


def _alert_group(ctx: Context, slo) -> dict:
    sel, budget = ctx.slo_selector(slo), decimal_text(slo.error_budget)

    def over(window: str, factor: object) -> str:
        return f"({q.series(cv.sli_error_rule(window), sel)} > ({factor} * {budget}))"

    rules = []
    for severity in ("page", "ticket"):
        pair = [t for t in tiers(slo.window) if t.severity == severity]
        conditions = [f"(\n    {over(t.short, t.factor)}\n    and ignoring ({cv.LABEL_WINDOW})\n    "
                      f"{over(t.long, t.factor)}\n)" for t in pair]
        rules.append({"alert": f"{camel(slo.name)}SLO", "expr": f"\nor ignoring ({cv.LABEL_WINDOW})\n".join(conditions),
                      "labels": {cv.LABEL_SEVERITY: severity}})
    return group(cv.GROUP_ALERTS.format(id=ctx.sloth_id(slo)), rules)


def sloth_rules(spec: Spec) -> str:
    """One rule file with the three Sloth groups of every SLO of ``spec`` (raw SLIs only)."""
    ctx = Context(spec)
    groups = [g for slo in spec.slos for g in (_sli_group(ctx, slo), _meta_group(ctx, slo), _alert_group(ctx, slo))]
    return "# Sloth-style rules (bench/sloth_style.py) for the rule-cost benchmark\n" + dump_yaml({"groups": groups})
