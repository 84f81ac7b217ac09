"""Writers: rule groups → plain Prometheus rule files and a ``monitoring.coreos.com/v1`` PrometheusRule.

Pure functions returning bodies (``agentwatch.families`` adds the DO-NOT-EDIT header); YAML from the
one dumper in ``agentwatch.artefacts``, so output is byte-for-byte stable.
"""

from __future__ import annotations

from agentwatch.artefacts import dump_yaml

__all__ = ["prometheus_rule", "rule_file", "scaled_note"]


def scaled_note(time_scale: int = 1) -> str:
    """The warning a time-scaled (demo) artefact starts with; nothing at the real scale."""
    if time_scale == 1:
        return ""
    return (f"# TIME-SCALED for demos: every window and `for` is divided by {time_scale}. "
            "Never deploy this.\n")


def rule_file(groups: list[dict], time_scale: int = 1) -> str:
    """A plain Prometheus rule file (``rule_files:`` / ``promtool check rules``)."""
    return scaled_note(time_scale) + dump_yaml({"groups": groups})


def prometheus_rule(name: str, groups: list[dict], time_scale: int = 1,
                    labels: dict[str, str] | None = None) -> str:
    """The same groups as a Prometheus Operator ``PrometheusRule`` object."""
    obj = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "agentwatch",
                                              **(labels or {})}},
        "spec": {"groups": groups},
    }
    return scaled_note(time_scale) + dump_yaml(obj)
