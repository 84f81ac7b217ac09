"""Names of generated rules, groups and labels — Sloth-compatible, spelled only here.

Sloth's Grafana dashboards read these names, so agentwatch output works with them unchanged.
Dashboards and tests import them from here (the metric catalogue covers raw metrics; this module
covers what the rules record).
"""

from __future__ import annotations

__all__ = [
    "ALERT_PREFIX",
    "GROUP_ALERTS",
    "GROUP_KPI",
    "GROUP_META",
    "GROUP_SLI",
    "LABEL_ID",
    "LABEL_SERVICE",
    "LABEL_SEVERITY",
    "LABEL_SLO",
    "LABEL_WINDOW",
    "SLI_ERROR_EVENTS_RATE",
    "SLI_ERROR_WINDOWS",
    "SLI_TOTAL_EVENTS_RATE",
    "SLO_CURRENT_BURN_RATE",
    "SLO_ERROR_BUDGET",
    "SLO_INFO",
    "SLO_OBJECTIVE",
    "SLO_PERIOD_BURN_RATE",
    "SLO_PERIOD_ERROR_BUDGET_REMAINING",
    "SLO_TIME_PERIOD_DAYS",
    "sli_error_rule",
]

#: ``slo:sli_error:ratio_rate<window>``; the SLO-period window (e.g. 30d) is added per SLO.
SLI_ERROR_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def sli_error_rule(window: str) -> str:
    """Recording-rule name of the SLI error ratio over ``window`` (Sloth's name)."""
    return f"slo:sli_error:ratio_rate{window}"


SLO_OBJECTIVE = "slo:objective:ratio"
SLO_ERROR_BUDGET = "slo:error_budget:ratio"
SLO_TIME_PERIOD_DAYS = "slo:time_period:days"
SLO_CURRENT_BURN_RATE = "slo:current_burn_rate:ratio"
SLO_PERIOD_BURN_RATE = "slo:period_burn_rate:ratio"
SLO_PERIOD_ERROR_BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"
SLO_INFO = "sloth_slo_info"

LABEL_ID = "sloth_id"
LABEL_SERVICE = "sloth_service"
LABEL_SLO = "sloth_slo"
LABEL_WINDOW = "sloth_window"
LABEL_SEVERITY = "sloth_severity"

#: Alert names are CamelCase with this product prefix.
ALERT_PREFIX = "AgentWatch"

# agentwatch additions (not in Sloth): traffic-weighted long windows need the 5m event rates.
#: Bad events per second over 5m, recorded per SLO.
SLI_ERROR_EVENTS_RATE = "slo:sli_error_events:rate5m"
#: All events per second over 5m, recorded per SLO.
SLI_TOTAL_EVENTS_RATE = "slo:sli_total_events:rate5m"

#: Group names, Sloth's pattern: ``sloth-slo-<kind>-<sloth_id>``.
GROUP_SLI = "sloth-slo-sli-recordings-{id}"
GROUP_META = "sloth-slo-meta-recordings-{id}"
GROUP_ALERTS = "sloth-slo-alerts-{id}"
GROUP_KPI = "agentwatch-kpi-alerts-{service}"
