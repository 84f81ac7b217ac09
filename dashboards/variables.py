"""Template variables and the label selector they form, shared by the dashboards.

``datasource`` (Prometheus) and ``jaeger`` are datasource variables; ``namespace``, ``job``,
``version`` and ``instance`` are chained ``label_values`` queries on ``agent_build_info`` (always 1,
one series per process). ``namespace``, ``version`` and ``instance`` default to *All* = ``.*``,
which also matches a series without the label, so the dashboards work outside Kubernetes; ``job``
expands *All* to the agent jobs only, so ``up{job=~"$job"}`` never counts unrelated targets.
Picking a version narrows ``instance`` to that version's processes, so every panel shows just it;
the release-comparison panels filter their by-version recordings on ``version`` directly.
"""

from __future__ import annotations

from collections.abc import Mapping

import attr
from grafanalib import core as g

from agentwatch import promql as q
from agentwatch.alerts import conventions as conv
from agentwatch.telemetry import catalogue as c

__all__ = [
    "AGENT_SELECTOR",
    "NAMESPACE_SELECTOR",
    "SLO_SELECTOR",
    "VERSION_SELECTOR",
    "Variable",
    "agent_variables",
    "datasource_variables",
    "interval_variable",
    "slo_variables",
]

PROMETHEUS_DS = {"type": "prometheus", "uid": "${datasource}"}

#: Selector body every agent-metric query carries.
AGENT_SELECTOR = q.selector(namespace="~$namespace", job="~$job", instance="~$instance")
#: Selector for kube-state-metrics / cAdvisor series (no agent job there).
NAMESPACE_SELECTOR = q.selector(namespace="~$namespace")
#: Selector of by-version recordings (they carry ``version``, never ``instance``).
VERSION_SELECTOR = q.selector(version="~$version")
#: Selector on the Sloth-compatible SLO labels.
SLO_SELECTOR = q.selector(**{conv.LABEL_SERVICE: "~$service", conv.LABEL_SLO: "~$slo"})


@attr.s
class Variable(g.Template):
    """grafanalib's ``Template`` plus ``definition``/``description`` and Grafana 10's ``current``."""

    description = attr.ib(default="")

    def to_json_data(self) -> dict:
        data = super().to_json_data()
        if self.type == "query":
            data["definition"] = self.query
        if self.includeAll:
            data["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
        elif self.type == "datasource":
            data["current"] = {}
        data["description"] = self.description
        return data


def _query_var(name: str, label: str, query: str, *, all_value: str | None, description: str) -> Variable:
    return Variable(name=name, label=label, query=query, dataSource=PROMETHEUS_DS, includeAll=True,
                    multi=True, allValue=all_value, refresh=2, sort=1, description=description)


def datasource_variables(*, jaeger: bool) -> list[g.Template]:
    """``datasource`` (Prometheus) and, for dashboards with latency panels, ``jaeger``."""
    out = [Variable(name="datasource", label="Prometheus", query="prometheus", type="datasource", refresh=1,
                    description="Prometheus that scrapes the agents and evaluates the agentwatch rules.")]
    if jaeger:
        out.append(Variable(name="jaeger", label="Jaeger", query="jaeger", type="datasource", refresh=1,
                            description="Jaeger holding the agents' traces (exemplar and panel links)."))
    return out


def agent_variables(service_selector: Mapping[str, str] | None = None, *,
                    namespace: bool = True) -> list[g.Template]:
    """``namespace`` (optional), ``job``, ``version`` and ``instance``, chained on ``agent_build_info``.

    ``service_selector`` (the spec's ``service.selector``) narrows every variable query.
    """
    base = q.selector(**dict(service_selector or {}))
    info = c.BUILD_INFO.name
    out = []
    if namespace:
        out.append(_query_var("namespace", "Namespace", f"label_values({q.series(info, base)}, namespace)",
                              all_value=".*", description="Kubernetes namespace; All also matches series "
                              "without one."))
    ns = q.join_selectors(base, NAMESPACE_SELECTOR if namespace else "")
    out.append(_query_var("job", "Job", f"label_values({q.series(info, ns)}, job)", all_value=None,
                          description="Prometheus scrape job of the agents."))
    jobs = q.join_selectors(ns, q.selector(job="~$job"))
    out.append(_query_var("version", "Version", f"label_values({q.series(info, jobs)}, version)", all_value=".*",
                          description="Agent version (AGENT_VERSION); picking one narrows the instances to it."))
    out.append(_query_var("instance", "Instance",
                          f"label_values({q.series(info, q.join_selectors(jobs, VERSION_SELECTOR))}, "
                          "instance)", all_value=".*", description="One agent process (pod)."))
    return out


def slo_variables() -> list[g.Template]:
    """``service`` and ``slo`` over ``sloth_slo_info``: works on agentwatch's and Sloth's rules."""
    info = conv.SLO_INFO
    return [
        _query_var("service", "SLO service", f"label_values({info}, {conv.LABEL_SERVICE})", all_value=".*",
                   description="sloth_service of the SLOs to show."),
        _query_var("slo", "SLO",
                   f"label_values({q.series(info, q.selector(**{conv.LABEL_SERVICE: '~$service'}))}, "
                   f"{conv.LABEL_SLO})", all_value=".*", description="sloth_slo of the SLOs to show."),
    ]


def interval_variable(name: str, label: str, options: tuple[str, ...], default: str,
                      description: str) -> g.Template:
    """A fixed-choice interval variable (e.g. the smoothing window of business KPIs)."""
    return Variable(name=name, label=label, query=",".join(options), type="custom", default=default,
                    description=description)
