"""agentwatch.alerts: SLO spec → Prometheus recording, burn-rate and KPI rules, Alertmanager config.

An ordered chain of pure stages (like Sloth's plugin chain): ``sli_rules`` → ``meta_rules`` →
``slo_alerts`` → ``kpi_rules`` → ``release_rules`` (the same SLIs and KPIs by agent version, and the
version-regression alert); then writers turn the groups into files. The ``rules`` family of
``agentwatch.families``.

Usage::

    from agentwatch.alerts import render
    files = render(spec)                    # {"alerts/generated/slo-<name>.yaml": "...", ...}
    demo = render(spec, time_scale=60)      # every window / 60: demos only
"""

from __future__ import annotations

from agentwatch.alerts import conventions as cv
from agentwatch.alerts.alertmanager import alertmanager_config
from agentwatch.alerts.context import Context
from agentwatch.alerts.kpi_rules import kpi_rules
from agentwatch.alerts.meta_rules import meta_rules
from agentwatch.alerts.release_rules import release_rules
from agentwatch.alerts.sli_rules import sli_rules
from agentwatch.alerts.slo_alerts import slo_alerts
from agentwatch.alerts.unit_tests import slo_unit_tests
from agentwatch.alerts.writers import prometheus_rule, rule_file
from agentwatch.spec import Spec

__all__ = [
    "GENERATED_DIR",
    "KPI_RULES",
    "PROMETHEUS_RULE",
    "RELEASE_RULES",
    "TESTS_DIR",
    "render",
    "slo_groups",
    "slo_rules_path",
]

GENERATED_DIR = "alerts/generated"
TESTS_DIR = f"{GENERATED_DIR}/tests"
KPI_RULES = f"{GENERATED_DIR}/kpi-rules.yaml"
PROMETHEUS_RULE = f"{GENERATED_DIR}/prometheusrule.yaml"
RELEASE_RULES = f"{GENERATED_DIR}/release-rules.yaml"


def slo_rules_path(slo_name: str) -> str:
    """Rule file of one SLO: ``alerts/generated/slo-<name>.yaml``."""
    return f"{GENERATED_DIR}/slo-{slo_name}.yaml"


def slo_groups(ctx: Context) -> dict[str, list[dict]]:
    """Per SLO name, its groups in Sloth's order: SLI recordings, meta recordings, alerts."""
    groups = [g for stage in (sli_rules(ctx), meta_rules(ctx), slo_alerts(ctx)) for g in stage]
    by_slo = {}
    for slo in ctx.spec.slos:
        names = [f.format(id=ctx.sloth_id(slo)) for f in (cv.GROUP_SLI, cv.GROUP_META, cv.GROUP_ALERTS)]
        by_slo[slo.name] = [g for g in groups if g["name"] in names]
    return by_slo


def render(spec: Spec, time_scale: int = 1) -> dict[str, str]:
    """Every alerting artefact of ``spec``, keyed by path relative to the output root.

    Pure: no I/O, no clock. ``time_scale`` > 1 divides every window (demos only) and skips the
    promtool unit tests, which test the real windows.
    """
    ctx = Context(spec, time_scale)
    by_slo, kpi, releases = slo_groups(ctx), kpi_rules(ctx), release_rules(ctx)
    files = {slo_rules_path(name): rule_file(groups, time_scale) for name, groups in by_slo.items()}
    files[KPI_RULES] = rule_file(kpi, time_scale)
    files[RELEASE_RULES] = rule_file(releases, time_scale)
    every_group = [g for groups in by_slo.values() for g in groups] + kpi + releases
    files[PROMETHEUS_RULE] = prometheus_rule(f"{spec.service.name}-slos", every_group, time_scale)
    files[f"{GENERATED_DIR}/alertmanager.yaml"] = alertmanager_config(spec, time_scale)
    if time_scale == 1:
        for slo_def in spec.slos:
            order = [g["name"] for g in by_slo[slo_def.name]]
            rules = "../" + slo_rules_path(slo_def.name).rsplit("/", 1)[1]
            for step, speed in ((1, "fast"), (5, "slow")):
                tests = slo_unit_tests(ctx, slo_def, order, step, rules)
                if tests is not None:
                    files[f"{TESTS_DIR}/slo-{slo_def.name}-{speed}-test.yaml"] = tests
    return dict(sorted(files.items()))
