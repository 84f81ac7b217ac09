"""Stage 4: KPI and operational alerts, read from catalogue metrics through ``agentwatch.promql``.

Inputs: the KPIs the spec's ``kpis`` section names (none without the section) and the
application's declared error classes. Output: one group, ``agentwatch-kpi-alerts-<service>``, with
an alert per named KPI: escalation rate high, first-contact resolution low, error-class spike (by
default over every declared 5xx or 429 class), queue saturated, model not loaded, state-store
errors, and no traffic when traffic is expected (there was some at the same time
``baseline_offset`` ago). A disabled threshold (``enabled: false``) emits nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from agentwatch import promql as q
from agentwatch.alerts import conventions as cv
from agentwatch.alerts.context import Context, Rule, group
from agentwatch.alerts.slo_alerts import RUNBOOK_BASE
from agentwatch.spec.model import Threshold
from agentwatch.telemetry import catalogue as c

__all__ = ["KPI_ALERTS", "kpi_rules"]

Build = Callable[[Context, Threshold], str]


def _escalation(ctx: Context, t: Threshold) -> str:
    return f"{q.escalation_rate(ctx.kpi_selector(), ctx.d(t.window))} > {t.above:g}"


def _fcr(ctx: Context, t: Threshold) -> str:
    return f"{q.first_contact_resolution_rate(ctx.kpi_selector(), ctx.d(t.window))} < {t.below:g}"


def _spike(ctx: Context, t: Threshold) -> str:
    classes = t.classes or tuple(name for name, status in ctx.spec.closed_sets.error_status.items()
                                 if status >= 500 or status == 429)
    return q.error_class_spike(ctx.kpi_selector(), ctx.d(t.window), classes, t.above or 0,
                               t.spike_factor, ctx.d(t.baseline_offset))


def _queue(ctx: Context, t: Threshold) -> str:
    return f"{q.queue_saturation_over(ctx.kpi_selector(), ctx.d(t.window))} > {t.above:g}"


def _model(ctx: Context, t: Threshold) -> str:
    return q.model_not_loaded(ctx.kpi_selector())


def _state(ctx: Context, t: Threshold) -> str:
    return f"{q.state_store_error_rate(ctx.kpi_selector(), ctx.d(t.window))} > {t.above:g}"


def _no_traffic(ctx: Context, t: Threshold) -> str:
    route = ctx.spec.kpis.route if ctx.spec.kpis else None
    sel = ctx.kpi_selector(**({"route": route} if route else {}))
    return q.no_traffic(sel, ctx.d(t.window), t.below or 0, ctx.d(t.baseline_offset))


#: kpi field → (alert name, builder, summary, description). ``$value`` is the measured value.
KPI_ALERTS: dict[str, tuple[str, Build, str, str]] = {
    "escalation_rate": (
        "EscalationRateHigh", _escalation, "{{ $value | humanizePercentage }} of conversations escalated",
        "More than %(above)s of conversations ending over the last %(window)s were handed to a human."),
    "first_contact_resolution": (
        "FirstContactResolutionLow", _fcr, "First-contact resolution at {{ $value | humanizePercentage }}",
        "Fewer than %(below)s of conversations ending over the last %(window)s were resolved "
        "without escalation."),
    "error_class_spike": (
        "ErrorClassSpike", _spike, "{{ $labels.error_class }} errors spiking: {{ $value | humanize }}/s",
        "{{ $labels.error_class }} errors exceed %(above)s/s over %(window)s and %(factor)sx their rate over the "
        "preceding %(baseline)s."),
    "queue_saturation": (
        "QueueSaturated", _queue, "Inference queue {{ $value | humanizePercentage }} full on "
        "{{ $labels.instance }}",
        "The inference queue averaged above %(above)s of its capacity over %(window)s; next come "
        "429 overloaded rejections."),
    "model_not_loaded": (
        "ModelNotLoaded", _model, "Model {{ $labels.model }} not loaded on {{ $labels.instance }}",
        f"{c.MODEL_LOADED.name} has been below 1 for %(for_)s; the instance answers 503 model_not_loaded."),
    "state_store_errors": (
        "StateStoreErrors", _state, "State store failing: {{ $value | humanize }} errors/s",
        "Requests fail with state_store_unavailable at more than %(above)s/s over %(window)s."),
    "no_traffic": (
        "NoTraffic", _no_traffic, "No traffic on %(route)s",
        "Requests fell below %(below)s/s over %(window)s, while %(baseline)s earlier there were more."),
}


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def kpi_rules(ctx: Context) -> list[dict]:
    kpis = ctx.spec.kpis
    if kpis is None:
        return []
    rules: list[Rule] = []
    for field, t in kpis.declared().items():
        name, build, summary, description = KPI_ALERTS[field]
        facts = {"above": _num(t.above), "below": _num(t.below),
                 "window": t.window, "factor": f"{t.spike_factor:g}", "baseline": t.baseline_offset,
                 "for_": t.for_, "route": kpis.route or "any route"}
        rules.append({
            "alert": f"{cv.ALERT_PREFIX}{name}",
            "expr": build(ctx, t),
            "for": ctx.d(t.for_),
            "labels": {"kpi": field, "service": ctx.spec.service.name, "severity": t.severity},
            "annotations": {"description": description % facts,
                            "runbook_url": t.runbook_url or f"{RUNBOOK_BASE}#{field.replace('_', '-')}",
                            "summary": summary % facts},
        })
    return [group(cv.GROUP_KPI.format(service=ctx.spec.service.name), rules, ctx.interval)] if rules else []
