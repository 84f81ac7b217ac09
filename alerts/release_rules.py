"""Stage 5: the SLIs and KPIs by agent version, and the version-regression alert.

The version is never a label on the agent's series: every rule here joins ``agent_build_info``
(one series per process) on ``(job, instance)`` to carry it (``promql.with_version``). Output: one
group, ``agentwatch-versions-<service>``:

* per SLO with an availability or latency SLI: ``slo_version:sli_{error,total}_events:rate<w>`` and
  ``slo_version:sli_error:ratio_rate<w>`` over ``releases.window`` (raw-PromQL SLIs cannot be
  joined generically and are left out);
* ``version:agent_requests:rate<w>``, ``version:agent_request_errors:ratio_rate<w>`` (5xx),
  ``version:agent_request_duration_seconds:p99_rate<w>`` (the KPI route when set), and over
  ``releases.kpi_window`` the escalation and first-contact-resolution ratios (only for a service
  that emits the conversation metrics and declares those outcomes);
* ``version:agent_instances:count`` and ``version:process_start_time_seconds:min`` (the newest version
  is the one whose oldest process started last);
* ``AgentWatchVersionRegression`` per SLO: the newest version serving traffic has an SLI error ratio
  above ``regression.ratio`` x that of every other version together, and above the SLO's error
  budget, with at least ``regression.min_requests`` requests on each side within the window.
"""

from __future__ import annotations

from agentwatch import promql as q
from agentwatch.alerts import conventions as cv
from agentwatch.alerts.context import Context, Rule, decimal_text, group
from agentwatch.alerts.slo_alerts import RUNBOOK_BASE
from agentwatch.durations import parse_duration
from agentwatch.spec.model import SLO
from agentwatch.telemetry import catalogue as c

__all__ = ["comparable_slos", "release_rules", "sli_events", "version_selector"]

#: Labels that identify one SLO's recorded series (Sloth's).
_SLO = (cv.LABEL_ID, cv.LABEL_SERVICE, cv.LABEL_SLO)


def comparable_slos(ctx: Context) -> list[SLO]:
    """SLOs whose SLI can be split by version (availability and latency; not raw PromQL)."""
    return [slo for slo in ctx.spec.slos if slo.sli.availability or slo.sli.latency]


def version_selector(ctx: Context) -> str:
    """Selector of this service's ``version:*`` recordings."""
    return q.selector(service=ctx.spec.service.name)


def sli_events(slo: SLO, sel: str, window: str, info_sel: str | None = None) -> tuple[str, str]:
    """(bad, total) events/s of an availability or latency SLO (by version with ``info_sel``)."""
    availability, latency = slo.sli.availability, slo.sli.latency
    sli = availability or latency
    if sli is None:
        raise ValueError(f"SLO {slo.name}: a raw SLI cannot be split by version")
    return q.sli_events(c.by_name(sli.metric), sel, window, info_sel=info_sel,
                        bad_codes=availability.bad_codes if availability else None,
                        good_le=latency.le if latency else None)


def _bad_total(ctx: Context, slo: SLO, window: str) -> tuple[str, str]:
    return sli_events(slo, ctx.sli_selector(slo), window, ctx.kpi_selector())


def _slo_rules(ctx: Context, slo: SLO) -> list[Rule]:
    w = ctx.spec.releases.window
    labels, sel = ctx.slo_labels(slo), ctx.slo_selector(slo)
    bad, total = _bad_total(ctx, slo, ctx.d(w))
    errors, events = cv.version_rule(cv.SLO_VERSION_ERROR_EVENTS, w), cv.version_rule(cv.SLO_VERSION_TOTAL_EVENTS, w)
    return [
        {"record": errors, "expr": bad, "labels": labels},
        {"record": events, "expr": total, "labels": labels},
        {"record": cv.version_rule(cv.SLO_VERSION_ERROR_RATIO, w),
         "expr": q.ratio(q.series(errors, sel), q.series(events, sel)), "labels": labels},
    ]


def _kpi_rules(ctx: Context) -> list[Rule]:
    r = ctx.spec.releases
    w, kw = ctx.d(r.window), ctx.d(r.kpi_window)
    info, labels = ctx.kpi_selector(), {"service": ctx.spec.service.name}
    kpi_route = ctx.spec.kpis.route if ctx.spec.kpis else None
    route = ctx.kpi_selector(**({"route": kpi_route} if kpi_route else {}))
    rules = [
        (cv.VERSION_INSTANCES, "", q.instances_by_version(info)),
        (cv.VERSION_START_TIME, "", q.start_time_by_version(info)),
        (cv.VERSION_REQUESTS, r.window, q.rate_by_version(c.REQUEST_DURATION.count, info, w, info)),
        (cv.VERSION_ERROR_RATIO, r.window, q.error_ratio_by_version(info, w, info)),
        (cv.VERSION_LATENCY_P99, r.window, q.quantile_by_version(0.99, c.REQUEST_DURATION, route, w, info)),
    ]
    if ctx.spec.emits(c.CONVERSATIONS_ENDED):  # conversation KPIs only for a service that records them
        outcomes = ctx.spec.closed_sets.outcomes
        rules.append((cv.VERSION_ENDED, r.kpi_window, q.rate_by_version(c.CONVERSATIONS_ENDED.name, info, kw, info,
                                                                        c.CONVERSATIONS_ENDED.labels)))
        if c.ESCALATED in outcomes:
            rules.append((cv.VERSION_ESCALATION, r.kpi_window, q.outcome_ratio_by_version(c.ESCALATED, info, kw, info)))
        if c.RESOLVED in outcomes:
            rules.append((cv.VERSION_FCR, r.kpi_window, q.outcome_ratio_by_version(c.RESOLVED, info, kw, info)))
    return [{"record": cv.version_rule(name, window), "expr": expr, "labels": labels}
            for name, window, expr in rules]


def _regression(ctx: Context, slo: SLO) -> Rule:
    r, reg = ctx.spec.releases, ctx.spec.releases.regression
    sel = ctx.slo_selector(slo)
    bad, total = (q.series(cv.version_rule(t, r.window), sel)
                  for t in (cv.SLO_VERSION_ERROR_EVENTS, cv.SLO_VERSION_TOTAL_EVENTS))
    ratio = q.series(cv.version_rule(cv.SLO_VERSION_ERROR_RATIO, r.window), sel)
    newest = q.newest_version(q.series(cv.VERSION_START_TIME, version_selector(ctx)), total)
    expr = q.version_regression(ratio, bad, total, _SLO, factor=reg.ratio, floor=decimal_text(slo.error_budget),
                                window_seconds=decimal_text(parse_duration(ctx.d(r.window))),
                                min_requests=reg.min_requests, newest=newest)
    what = "server errors" if slo.sli.availability else "requests slower than the threshold"
    return {
        "alert": cv.VERSION_ALERT,
        "expr": expr,
        "for": ctx.d(reg.for_),
        "labels": {cv.LABEL_SLO: slo.name, "service": ctx.spec.service.name, "severity": reg.severity},
        "annotations": {
            "summary": "Version {{ $labels.version }} regresses " + slo.name + ": {{ $value | humanizePercentage }} "
                       f"{what}",
            "description": (f"Over the last {r.window}, the newest version serving traffic had more than "
                            f"{reg.ratio:g}x the {slo.name} error ratio of the versions before it, and more than "
                            f"the SLO's budget ({decimal_text(slo.error_budget * 100)}%), with at least "
                            f"{reg.min_requests} requests each. Roll it back or halt the rollout."),
            "runbook_url": f"{RUNBOOK_BASE}#version-regression",
        },
    }


def release_rules(ctx: Context) -> list[dict]:
    slos = comparable_slos(ctx)
    rules = [rule for slo in slos for rule in _slo_rules(ctx, slo)] + _kpi_rules(ctx)
    if ctx.spec.releases.regression.enabled:
        rules += [_regression(ctx, slo) for slo in slos]
    return [group(cv.GROUP_VERSIONS.format(service=ctx.spec.service.name), rules, ctx.interval)]
