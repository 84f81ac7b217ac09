"""Generate one promtool unit-test file per SLO (``alerts/generated/tests/slo-<name>-test.yaml``).

Scenarios, each a sentence: a sustained burn at each tier fires exactly that tier; a spike
shorter than the short window fires nothing; a recovered service resolves; zero traffic stays
silent and records no ratio; traffic stopping mid-burn does not resolve a page; the period ratio
is traffic-weighted. Expected alerts, values and annotations come from ``simulate`` (an
independent model of the rules); the generator refuses a scenario whose simulated alerts differ
from what its name promises, so a test always means what it says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agentwatch.alerts import conventions as cv
from agentwatch.alerts.context import Context
from agentwatch.alerts.simulate import Phase, Simulation, go_g4, prom_round
from agentwatch.alerts.slo_alerts import alert_labels, alert_name, annotations
from agentwatch.alerts.windows import tiers
from agentwatch.artefacts import dump_yaml
from agentwatch.spec.model import SLO
from agentwatch.telemetry import catalogue as c

__all__ = ["Scenario", "scenarios", "slo_unit_tests"]

RPM = 100.0  # requests per minute in every scenario


@dataclass(frozen=True)
class Scenario:
    name: str
    phases: list[Phase]
    #: minute → indices of the tiers that must be firing then (all others must not).
    expect: dict[int, set[int]]
    exprs: list[str] = field(default_factory=list)  # extra checks: "sli" ratios, "period"
    #: Minutes between samples and evaluations: 1 for the fast tiers, 5 keeps multi-day ones quick.
    step: int = 1


def scenarios(budget: float) -> list[Scenario]:
    """The scenario table (30d-shaped windows; tier indices 0..3 = page 1h, page 6h, ticket 1d, 3d)."""
    h = 60
    return [
        Scenario("page 1h/5m: a 20x burn for 50 minutes pages on the fast tier only, and resolves "
                 "minutes after the errors stop",
                 [Phase(18 * h, RPM), Phase(50, RPM, 20), Phase(60, RPM)],
                 {18 * h + 30: set(), 18 * h + 50: {0}, 18 * h + 60: set()}, ["sli"]),
        Scenario("page 6h/30m: a 10x burn for 4 hours pages on the slow tier only",
                 [Phase(40 * h, RPM), Phase(240, RPM, 10)], {40 * h + 240: {1}}, step=5),
        Scenario("ticket 1d/2h: a 5x burn for 15h40m raises the quick ticket, not a page "
                 "(the 3d ticket is still pending)",
                 [Phase(58 * h, RPM), Phase(940, RPM, 5)], {58 * h + 940: {2}}, step=5),
        Scenario("ticket 3d/6h: a 2x burn for 40 hours raises the slow ticket only",
                 [Phase(36 * h, RPM), Phase(2400, RPM, 2)], {36 * h + 2400: {3}}, step=5),
        Scenario("a 100x spike for 3 minutes, shorter than the 5m short window, fires nothing",
                 [Phase(12 * h, RPM), Phase(3, RPM, 100), Phase(60, RPM)],
                 {12 * h + m: set() for m in (3, 5, 10, 30, 60)}),
        Scenario("zero traffic from the start stays silent and records no error ratio",
                 [Phase(120, 0.0)], {10: set(), 60: set(), 120: set()}, ["absent"]),
        Scenario("traffic stopping mid-burn keeps the page firing until the long window is empty",
                 [Phase(18 * h, RPM), Phase(50, RPM, 20), Phase(70, 0.0)],
                 {18 * h + 60: {0}, 18 * h + 100: {0}, 18 * h + 115: set()}),
        Scenario("the period ratio is traffic-weighted: a quiet 10% error spell barely moves it",
                 [Phase(10 * h, 10 * RPM), Phase(10 * h, RPM / 10, 0.1 / budget)], {}, ["period"], step=5),
    ]


def _minutes_text(minute: int) -> str:
    return f"{minute}m"


def _labels_text(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _values(increments: list[float]) -> str:
    """promtool expanding notation for a counter growing by ``increments`` each minute."""
    segments, value, i = [], 0.0, 0
    while i < len(increments):
        j = i
        while j < len(increments) and increments[j] == increments[i]:
            j += 1
        inc, count = increments[i], j - i
        if not segments:
            segments.append(f"0+{inc:g}x{count}")
        else:
            segments.append(f"{value + inc:g}+{inc:g}x{count - 1}")
        value += inc * count
        i = j
    return " ".join(segments) or "0"


def _input_series(ctx: Context, slo: SLO, sim: Simulation) -> list[dict]:
    sli = slo.sli.availability or slo.sli.latency
    assert sli is not None
    metric = c.by_name(sli.metric)
    base = {**ctx.spec.service.selector, **sli.matchers()}
    base.setdefault("method", "POST")
    good = sim.samples([t - b for t, b in zip(sim.total_inc, sim.bad_inc, strict=True)])
    bad, total = sim.samples(sim.bad_inc), sim.samples(sim.total_inc)
    if slo.sli.availability:
        bad_code = next(code for code in c.HTTP_CODES if re.fullmatch(slo.sli.availability.bad_codes, code))
        return [{"series": metric.count + _labels_text({**base, "code": "200"}), "values": _values(good)},
                {"series": metric.count + _labels_text({**base, "code": bad_code}),
                 "values": _values(bad)}]
    assert slo.sli.latency is not None
    within = {**base, "code": "200", "le": slo.sli.latency.le}
    return [{"series": metric.count + _labels_text({**base, "code": "200"}), "values": _values(total)},
            {"series": metric.bucket + _labels_text(within), "values": _values(good)}]


def _alert_tests(ctx: Context, slo: SLO, sc: Scenario, sim: Simulation) -> list[dict]:
    slo_tiers = tiers(slo.window)
    enabled = {i for i, t in enumerate(slo_tiers) if not getattr(slo.alerting, t.severity).disable}
    horizon = max(sc.expect, default=0)
    states = [sim.firing(t, horizon) for t in slo_tiers]
    tests = []
    for minute, promised in sorted(sc.expect.items()):
        wanted = promised & enabled  # a disabled severity never fires
        got = {i for i, s in enumerate(states) if s[minute]} & enabled
        if got != wanted:
            raise ValueError(f"{slo.name}: scenario {sc.name!r} at {minute}m fires tiers {sorted(got)}, "
                             f"its name promises {sorted(wanted)}")
        names = sorted({alert_name(slo, slo_tiers[i].severity) for i in enabled})
        for name in names:
            expected = []
            for i in sorted(got):
                tier = slo_tiers[i]
                if alert_name(slo, tier.severity) != name:
                    continue
                burn = (sim.ratio(minute, tier.long) or 0) / sim.budget
                left = 1 - (sim.period_ratio(minute, slo.window) or 0) / sim.budget
                expected.append({
                    "exp_labels": {**ctx.slo_labels(slo), **alert_labels(ctx, slo, tier)},
                    "exp_annotations": annotations(ctx, slo, tier, f"{burn:.1f}", go_g4(left * 100) + "%"),
                })
            tests.append({"eval_time": _minutes_text(minute), "alertname": name, "exp_alerts": expected})
    return tests


def _expr_tests(ctx: Context, slo: SLO, sc: Scenario, sim: Simulation) -> list[dict]:
    sel = ctx.slo_selector(slo)
    tests = []
    if "sli" in sc.exprs:  # window ratios, in parts per million
        minute = max(sc.expect)
        for window in ("5m", "1h", "6h"):
            ratio = sim.ratio(minute - 10, window) or 0.0
            tests.append({"expr": f"sum(round(1e6 * {cv.sli_error_rule(window)}{{{sel}}}))",
                          "eval_time": f"{minute - 10}m",
                          "exp_samples": [{"labels": "{}", "value": prom_round(1e6 * ratio)}]})
    if "absent" in sc.exprs:
        for window in ("5m", "1h", slo.window):
            tests.append({"expr": f"{cv.sli_error_rule(window)}{{{sel}}}", "eval_time": "60m",
                          "exp_samples": []})
    if "period" in sc.exprs:
        period = sim.period_ratio(sim.end, slo.window) or 0.0
        tests.append({"expr": f"sum(round(1e6 * {cv.sli_error_rule(slo.window)}{{{sel}}}))",
                      "eval_time": f"{sim.end}m", "exp_samples": [{"labels": "{}", "value": prom_round(1e6 * period)}]})
    return tests


def slo_unit_tests(ctx: Context, slo: SLO, group_order: list[str], step: int,
                   rule_file: str) -> str | None:
    """promtool tests of one availability or latency SLO whose scenarios use ``step`` minutes.

    ``group_order`` names every rule group in evaluation order (recordings before alerts), so
    promtool evaluates them deterministically. Raw SLOs have no known inputs: ``None``.
    """
    if slo.sli.raw is not None or slo.window != "30d":
        return None  # raw: inputs unknown; the scenario table is shaped for the 30d tiers
    groups = []
    for sc in scenarios(float(slo.error_budget)):
        if sc.step != step or any(p.burn * float(slo.error_budget) > 1 for p in sc.phases):
            continue  # other file, or a burn impossible for so loose an objective
        sim = Simulation(sc.phases, slo.error_budget, sc.step)
        group = {"name": sc.name, "interval": f"{step}m", "input_series": _input_series(ctx, slo, sim)}
        alerts, exprs = _alert_tests(ctx, slo, sc, sim), _expr_tests(ctx, slo, sc, sim)
        if alerts:
            group["alert_rule_test"] = alerts
        if exprs:
            group["promql_expr_test"] = exprs
        groups.append(group)
    if not groups:
        return None
    body = {"rule_files": [rule_file], "evaluation_interval": f"{step}m",
            "group_eval_order": group_order, "tests": groups}
    return f"# promtool test rules {{this file}}: scenarios for the {slo.name} SLO.\n" + \
        dump_yaml(body)
