"""SLOs and error budget, read from the Sloth-compatible recording rules.

Only the rule and label names Sloth itself records are used (``agentwatch.alerts.conventions``),
and the SLO-period SLI is derived from ``slo:period_burn_rate:ratio x slo:error_budget:ratio`` so it
does not depend on the period's window name (30d, 28d...): the dashboard works unchanged on rules
Sloth generated. A last row shows the raw traffic behind the SLIs per instance, for drilling down.
"""

from __future__ import annotations

from grafanalib import core as g

from agentwatch import promql as q
from agentwatch.alerts import conventions as conv
from agentwatch.dashboards import panels as p
from agentwatch.dashboards.common import build_dashboard, dashboard_link
from agentwatch.dashboards.config import DashboardConfig
from agentwatch.dashboards.layout import Cell, Section
from agentwatch.dashboards.variables import AGENT_SELECTOR, agent_variables, datasource_variables, slo_variables
from agentwatch.dashboards.variables import SLO_SELECTOR as SEL
from agentwatch.telemetry import catalogue as c

__all__ = ["STEM", "budget_remaining", "build", "burn_rate", "period_sli", "slo_series"]

STEM = "agentwatch-slos"
BY = (conv.LABEL_SERVICE, conv.LABEL_SLO)
LEGEND = "{{" + conv.LABEL_SLO + "}}"
_MATCH = f"on ({conv.LABEL_ID}, {conv.LABEL_SERVICE}, {conv.LABEL_SLO})"
#: Multi-window burn-rate factors (SRE workbook; sloth): 14.4 and 6 page, 3 and 1 ticket.
BURN_STEPS = p.steps("green", (1, "yellow"), (3, "orange"), (6, "red"), (14.4, "dark-red"))
BUDGET_STEPS = p.steps("red", (0, "orange"), (0.25, "yellow"), (0.5, "green"))


def slo_series(rule: str) -> str:
    """One Sloth rule per SLO, labels reduced to service and SLO."""
    return f"max by ({', '.join(BY)}) ({q.series(rule, SEL)})"


def period_sli(sel: str = SEL) -> str:
    """SLI over the SLO period: ``1 - period_burn_rate x error_budget`` (any period length)."""
    product = (f"{q.series(conv.SLO_PERIOD_BURN_RATE, sel)}\n* {_MATCH} group_left ()\n"
               f"{q.series(conv.SLO_ERROR_BUDGET, sel)}")
    return f"1 - max by ({', '.join(BY)}) (\n{product}\n)"


def burn_rate() -> str:
    return slo_series(conv.SLO_CURRENT_BURN_RATE)


def budget_remaining() -> str:
    return slo_series(conv.SLO_PERIOD_ERROR_BUDGET_REMAINING)


def _firing_alerts() -> str:
    firing = q.join_selectors(q.selector(alertstate="firing"), SEL)
    return f"count({q.series(q.external('ALERTS'), firing)}) or on () vector(0)"


def _summary(overview: dict) -> Section:
    return Section("SLO summary", [
        Cell(p.stat("Objective", "Target share of good events over the SLO period (slo:objective:ratio).",
                    [p.target(slo_series(conv.SLO_OBJECTIVE), LEGEND)], unit="percentunit", decimals=2,
                    thresholds=p.steps("blue"), links=[overview]), 4, 5),
        Cell(p.stat("SLI over the SLO period", "Share of good events over the whole SLO period so far "
                    "(1 - period burn rate x error budget).", [p.target(period_sli(), LEGEND)],
                    unit="percentunit", decimals=3, thresholds=p.steps("red", (0.99, "orange"), (0.999, "green"))),
             5, 5),
        Cell(p.stat("Error budget remaining", "Share of the period's error budget left; below 0 the SLO is "
                    "missed for this period.", [p.target(budget_remaining(), LEGEND)], unit="percentunit",
                    decimals=1, thresholds=BUDGET_STEPS, color_mode="background"), 5, 5),
        Cell(p.stat("Current burn rate", "Error ratio over 5m divided by the error budget: 1 spends the budget "
                    "exactly over the period; 14.4 pages.", [p.target(burn_rate(), LEGEND)], unit="short",
                    decimals=2, thresholds=BURN_STEPS), 4, 5),
        Cell(p.stat("Period burn rate", "Burn rate over the whole SLO period so far.",
                    [p.target(slo_series(conv.SLO_PERIOD_BURN_RATE), LEGEND)], unit="short", decimals=2,
                    thresholds=BURN_STEPS), 3, 5),
        Cell(p.stat("Firing SLO alerts", "Multi-window burn-rate alerts firing now for the selected SLOs "
                    "(Prometheus ALERTS).", [p.target(_firing_alerts(), "firing")], unit="short",
                    thresholds=p.steps("green", (1, "red")), color_mode="background"), 3, 5),
    ])


def _budget() -> Section:
    return Section("Error budget and burn rate", [
        Cell(p.timeseries("Error budget remaining over time", "Remaining share of the period's error "
                          "budget per SLO.", [p.target(budget_remaining(), LEGEND)], unit="percentunit",
                          thresholds=BUDGET_STEPS, show_thresholds=True), 12, 8),
        Cell(p.timeseries("Burn rate (5m)", "Current burn rate per SLO. Dashed: 1x, 3x and 1x (ticket), "
                          "6x and 14.4x (page) burn-rate factors.", [p.target(burn_rate(), LEGEND)],
                          unit="short", thresholds=BURN_STEPS, show_thresholds=True), 12, 8),
        Cell(p.timeseries("SLI error ratio by window", "Sloth's SLI error-ratio rules over 5m, 1h and 6h "
                          "against the error budget (the ratio a burn rate of 1 would give).",
                          [*(p.target(slo_series(conv.sli_error_rule(w)), f"{LEGEND} {w}") for w in ("5m", "1h", "6h")),
                           p.target(slo_series(conv.SLO_ERROR_BUDGET), f"{LEGEND} budget")],
                          unit="percentunit", thresholds=p.steps("green")), 12, 8),
        Cell(p.timeseries("SLI over the SLO period vs objective", "Share of good events over the SLO "
                          "period, against the objective.",
                          [p.target(period_sli(), f"{LEGEND} SLI"),
                           p.target(slo_series(conv.SLO_OBJECTIVE), f"{LEGEND} objective")],
                          unit="percentunit", thresholds=p.steps("green")), 12, 8),
        Cell(p.table("SLO catalogue", "Every SLO the rules define (sloth_slo_info), with its labels.",
                     [p.target(q.series(conv.SLO_INFO, SEL), "", instant=True, fmt="table")], unit="short",
                     thresholds=p.steps("green")), 24, 5),
    ])


def _le(threshold: float) -> str:
    """The ``le`` label text of the smallest latency bucket at or above ``threshold``."""
    bound = next((b for b in c.LATENCY_BUCKETS if b >= threshold), c.LATENCY_BUCKETS[-1])
    return str(float(bound))


def _traffic(cfg: DashboardConfig) -> Section:
    w, s = "$__rate_interval", AGENT_SELECTOR
    le = _le(cfg.latency_threshold_seconds)
    return Section("Traffic behind the SLIs", [
        Cell(p.timeseries("5xx ratio by instance", "Which agent contributes the errors the availability "
                          "SLI counts.", [p.target(q.error_ratio(s, w, ("instance",)), "{{instance}}")],
                          unit="percentunit", thresholds=p.steps("green", (0.01, "orange"), (0.05, "red")),
                          show_thresholds=True), 12, 8),
        Cell(p.timeseries(f"Requests faster than {le} s by instance", "Share of requests within the "
                          "latency-SLO threshold, per agent.",
                          [p.target(q.latency_good_ratio(s, w, le, ("instance",)), "{{instance}}")],
                          unit="percentunit", thresholds=p.steps("red", (0.95, "orange"), (0.99, "green")),
                          show_thresholds=True, max_one=True), 12, 8),
    ])


def build(cfg: DashboardConfig, note: str) -> g.Dashboard:
    """The SLO dashboard; ``cfg`` sets the latency threshold of the drill-down row."""
    overview = dashboard_link("agentwatch-overview", "Agent overview")
    return build_dashboard(
        STEM, "SLOs, error budgets and burn rates from Sloth-compatible recording rules "
        "(agentwatch's or Sloth's own).",
        [_summary(overview), _budget(), _traffic(cfg)],
        [*datasource_variables(jaeger=False), *slo_variables(), *agent_variables(cfg.selector)],
        tags=["slo"], time_from="now-7d", refresh="1m", generated_note=note,
        emitted=cfg.emitted,
    )
