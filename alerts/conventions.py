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
    "GROUP_VERSIONS",
    "LABEL_ID",
    "LABEL_SERVICE",
    "LABEL_SEVERITY",
    "LABEL_SLO",
    "LABEL_VERSION",
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
    "VERSION_ALERT",
    "sli_error_rule",
    "version_rule",
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

# agentwatch additions: the same SLIs and KPIs per agent version (``agent_build_info`` joins).
#: The version label the joins carry (``agent_build_info{version}``).
LABEL_VERSION = "version"
#: Recording rules by version; ``{window}`` is the real window text (time scaling keeps names).
SLO_VERSION_ERROR_EVENTS = "slo_version:sli_error_events:rate{window}"
SLO_VERSION_TOTAL_EVENTS = "slo_version:sli_total_events:rate{window}"
SLO_VERSION_ERROR_RATIO = "slo_version:sli_error:ratio_rate{window}"
VERSION_REQUESTS = "version:agent_requests:rate{window}"
VERSION_ERROR_RATIO = "version:agent_request_errors:ratio_rate{window}"
VERSION_LATENCY_P99 = "version:agent_request_duration_seconds:p99_rate{window}"
VERSION_ESCALATION = "version:conversations_escalated:ratio_rate{window}"
VERSION_FCR = "version:conversations_resolved_first_contact:ratio_rate{window}"
VERSION_ENDED = "version:agent_conversations_ended:rate{window}"
VERSION_INSTANCES = "version:agent_instances:count"
VERSION_START_TIME = "version:process_start_time_seconds:min"
GROUP_VERSIONS = "agentwatch-versions-{service}"
#: The version-regression alert (one per SLO, told apart by ``sloth_slo``).
VERSION_ALERT = f"{ALERT_PREFIX}VersionRegression"


def version_rule(template: str, window: str = "") -> str:
    """A by-version recording-rule name from its template and (real) window."""
    return template.format(window=window)
