"""Business KPIs: escalation rate and reasons, first-contact resolution, outcomes, conversation
length and intents. Totals cover the dashboard's time range (``$__range``); trends are smoothed
over ``$kpi_window`` because conversations end far less often than requests arrive."""

from __future__ import annotations

from grafanalib import core as g

from agentwatch import promql as q
from agentwatch.dashboards import panels as p
from agentwatch.dashboards.common import build_dashboard, dashboard_link
from agentwatch.dashboards.config import DashboardConfig
from agentwatch.dashboards.layout import Cell, Section
from agentwatch.dashboards.variables import AGENT_SELECTOR as S
from agentwatch.dashboards.variables import agent_variables, datasource_variables, interval_variable
from agentwatch.telemetry import catalogue as c

__all__ = ["STEM", "build"]

STEM = "agentwatch-kpis"
RANGE = "$__range"
KW = "$kpi_window"
ESCALATION_STEPS = p.steps("green", (0.2, "orange"), (0.35, "red"))
FCR_STEPS = p.steps("red", (0.6, "orange"), (0.8, "green"))


def _by(metric: c.MetricDef, label: str, window: str) -> str:
    return q.sum_by(q.increase(metric.name, S, window), (label,))


def _summary() -> Section:
    total = q.sum_by
    return Section("Over the selected time range", [
        Cell(p.stat("Escalation rate", "Conversations handed to a human / conversations ended.",
                    [p.target(q.escalation_rate(S, RANGE))], unit="percentunit", decimals=1,
                    thresholds=ESCALATION_STEPS,
                    links=[dashboard_link("agentwatch-overview", "Agent overview")]), 4, 5),
        Cell(p.stat("First-contact resolution", "Conversations resolved without escalation / "
                    "conversations ended.", [p.target(q.first_contact_resolution_rate(S, RANGE))],
                    unit="percentunit", decimals=1, thresholds=FCR_STEPS), 4, 5),
        Cell(p.stat("Conversations started", "Conversations that received their first message.",
                    [p.target(total(q.increase(c.CONVERSATIONS_STARTED.name, S, RANGE)))], unit="short",
                    decimals=0, thresholds=p.steps("blue")), 4, 5),
        Cell(p.stat("Conversations ended", "Conversations closed with any outcome.",
                    [p.target(total(q.increase(c.CONVERSATIONS_ENDED.name, S, RANGE)))], unit="short",
                    decimals=0, thresholds=p.steps("blue")), 4, 5),
        Cell(p.stat("Mean turns per conversation", "User turns per ended conversation.",
                    [p.target(q.histogram_average(c.CONVERSATION_TURNS, S, RANGE))], unit="short", decimals=1,
                    thresholds=p.steps("green", (10, "orange"), (20, "red"))), 4, 5),
        Cell(p.stat("Median intent confidence", "Median cosine similarity of messages to their intent; "
                    "below the agent's low-confidence threshold messages count as not understood.",
                    [p.target(q.histogram_quantile(0.5, c.INTENT_CONFIDENCE, S, RANGE))], unit="percentunit",
                    decimals=0, thresholds=p.steps("red", (0.45, "orange"), (0.6, "green"))), 4, 5),
    ])


def _outcomes() -> Section:
    return Section("Outcomes and escalations", [
        Cell(p.timeseries("Escalation and first-contact resolution rates",
                          "Both ratios over a sliding $kpi_window, so single conversations do not spike.",
                          [p.target(q.escalation_rate(S, KW), "escalation rate"),
                           p.target(q.first_contact_resolution_rate(S, KW), "first-contact resolution")],
                          unit="percentunit", thresholds=ESCALATION_STEPS, max_one=True), 12, 8),
        Cell(p.piechart("Outcomes", "How conversations ended over the time range.",
                        [p.target(_by(c.CONVERSATIONS_ENDED, "outcome", RANGE), "{{outcome}}")], unit="short",
                        thresholds=p.steps("green")), 6, 8),
        Cell(p.bargauge("Escalation reasons", "Why conversations were handed to a human over the time range.",
                        [p.target(_by(c.ESCALATIONS, "reason", RANGE), "{{reason}}")], unit="short",
                        thresholds=p.steps("blue")), 6, 8),
        Cell(p.timeseries("Conversations ended per $kpi_window by outcome", "Ended conversations per "
                          "outcome, counted over each sliding $kpi_window.",
                          [p.target(_by(c.CONVERSATIONS_ENDED, "outcome", KW), "{{outcome}}")], unit="short",
                          thresholds=p.steps("green"), stack=True, fill=40), 12, 8),
        Cell(p.timeseries("Escalations per $kpi_window by reason", "Escalations per reason, counted over "
                          "each sliding $kpi_window.", [p.target(_by(c.ESCALATIONS, "reason", KW), "{{reason}}")],
                          unit="short", thresholds=p.steps("green"), stack=True, fill=40), 12, 8),
    ])


def _conversations() -> Section:
    return Section("Conversations and intents", [
        Cell(p.bargauge("Conversation length distribution", "Ended conversations per number of user turns "
                        "(histogram buckets: up to N turns).",
                        [p.target(q.histogram_buckets(c.CONVERSATION_TURNS, S, RANGE), "{{le}}", fmt="heatmap")],
                        unit="short", thresholds=p.steps("blue")), 8, 9),
        Cell(p.bargauge("Intents", "Messages per classified intent over the time range.",
                        [p.target(_by(c.INTENTS_TOTAL, "intent", RANGE), "{{intent}}")], unit="short",
                        thresholds=p.steps("blue")), 8, 9),
        Cell(p.timeseries("Conversation length p50 / p90", "User turns per conversation when it ends.",
                          [p.target(q.histogram_quantile(quantile, c.CONVERSATION_TURNS, S, KW),
                                    f"p{round(quantile * 100)}") for quantile in (0.5, 0.9)],
                          unit="short", thresholds=p.steps("green", (10, "orange"), (20, "red")),
                          show_thresholds=True), 8, 9),
        Cell(p.timeseries("Intents per $kpi_window", "Messages per intent over each sliding $kpi_window.",
                          [p.target(_by(c.INTENTS_TOTAL, "intent", KW), "{{intent}}")], unit="short",
                          thresholds=p.steps("green"), stack=True, fill=40), 24, 8),
    ])


def build(cfg: DashboardConfig, note: str) -> g.Dashboard:
    """The business-KPI dashboard; ``cfg.selector`` narrows the job/instance variables."""
    dash_sections = [_summary(), _outcomes(), _conversations()]
    window = interval_variable("kpi_window", "KPI window", ("5m", "15m", "1h", "6h", "1d"), "1h",
                               "Sliding window the KPI trends are computed over.")
    return build_dashboard(
        STEM, "Customer-service outcomes: escalations, first-contact resolution, conversation length "
        "and intents.", dash_sections, [*datasource_variables(jaeger=False), *agent_variables(cfg.selector), window],
        tags=["kpi", "business"], time_from="now-24h", refresh="1m", generated_note=note,
        emitted=cfg.emitted)
