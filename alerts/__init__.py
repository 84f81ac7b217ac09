"""agentwatch.alerts: SLO spec → Prometheus recording, burn-rate and KPI rules, Alertmanager config.

An ordered chain of pure stages (like Sloth's plugin chain): ``sli_rules`` → ``meta_rules`` →
``slo_alerts`` → ``kpi_rules``; then writers turn the groups into files.

Usage::

    from agentwatch.alerts import generate_all, write_all
    files = generate_all(spec, "agentwatch.yaml")    # {"alerts/generated/slo-rules.yaml": "...", ...}
    write_all("agentwatch.yaml")                     # writes them next to the spec
"""

from __future__ import annotations

from pathlib import Path

from agentwatch.alerts import conventions as cv
from agentwatch.alerts.alertmanager import alertmanager_config
from agentwatch.alerts.context import Context
from agentwatch.alerts.kpi_rules import kpi_rules
from agentwatch.alerts.meta_rules import meta_rules
from agentwatch.alerts.sli_rules import sli_rules
from agentwatch.alerts.slo_alerts import slo_alerts
from agentwatch.alerts.unit_tests import slo_unit_tests
from agentwatch.alerts.writers import prometheus_rule, rule_file
from agentwatch.spec import Spec

__all__ = [
    "GENERATED_DIR",
    "KPI_RULES",
    "TESTS_DIR",
    "generate_all",
    "slo_groups",
    "slo_rules_path",
    "write_all",
]

GENERATED_DIR = "alerts/generated"
TESTS_DIR = f"{GENERATED_DIR}/tests"
KPI_RULES = f"{GENERATED_DIR}/kpi-rules.yaml"


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


def generate_all(spec: Spec, spec_path_label: str, time_scale: int = 1) -> dict[str, str]:
    """Every alerting artefact of ``spec``, keyed by path relative to the repository root.

    Pure: no I/O, no clock. ``time_scale`` > 1 divides every window (demos only) and skips the
    promtool unit tests, which test the real windows.
    """
    ctx = Context(spec, time_scale)
    by_slo, kpi = slo_groups(ctx), kpi_rules(ctx)
    files = {slo_rules_path(name): rule_file(groups, spec_path_label, time_scale)
             for name, groups in by_slo.items()}
    files[KPI_RULES] = rule_file(kpi, spec_path_label, time_scale)
    every_group = [g for groups in by_slo.values() for g in groups] + kpi
    files[f"{GENERATED_DIR}/prometheusrule.yaml"] = prometheus_rule(
        f"{spec.service.name}-slos", every_group, spec_path_label, time_scale)
    files[f"{GENERATED_DIR}/alertmanager.yaml"] = alertmanager_config(spec, spec_path_label, time_scale)
    if time_scale == 1:
        for slo_def in spec.slos:
            order = [g["name"] for g in by_slo[slo_def.name]]
            rules = "../" + slo_rules_path(slo_def.name).rsplit("/", 1)[1]
            for step, speed in ((1, "fast"), (5, "slow")):
                tests = slo_unit_tests(ctx, slo_def, spec_path_label, order, step, rules)
                if tests is not None:
                    files[f"{TESTS_DIR}/slo-{slo_def.name}-{speed}-test.yaml"] = tests
    return dict(sorted(files.items()))


def write_all(spec_file: str | Path, out_dir: str | Path | None = None, time_scale: int = 1) -> list[Path]:
    """Load ``spec_file`` and write ``generate_all`` under ``out_dir`` (default: the spec's folder)."""
    from agentwatch.artefacts import write_generated

    return write_generated(lambda spec, label: generate_all(spec, label, time_scale), spec_file, out_dir)
