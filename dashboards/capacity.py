"""Capacity and autoscaling: the HPA's signals (queue length per pod, mean inference time),
saturation, replicas (kube-state-metrics) and CPU/memory per pod (cAdvisor, else ``process_*``).

Replica panels need kube-state-metrics and stay empty elsewhere (they say so instead of showing
"No data"); CPU and memory fall back to the agents' own process metrics when cAdvisor is absent.
"""

from __future__ import annotations

from grafanalib import core as g

from agentwatch import promql as q
from agentwatch.dashboards import panels as p
from agentwatch.dashboards.common import build_dashboard, dashboard_link
from agentwatch.dashboards.config import DashboardConfig
from agentwatch.dashboards.layout import Cell, Section
from agentwatch.dashboards.variables import AGENT_SELECTOR as S
from agentwatch.dashboards.variables import NAMESPACE_SELECTOR as NS
from agentwatch.dashboards.variables import Variable, agent_variables, datasource_variables
from agentwatch.telemetry import catalogue as c

__all__ = ["KUBERNETES_ONLY_PANELS", "STEM", "build"]

STEM = "agentwatch-capacity"
W = "$__rate_interval"
#: Panels that only show data on Kubernetes (kube-state-metrics); the live test skips exactly these.
KUBERNETES_ONLY_PANELS: tuple[str, ...] = ("HPA replicas: desired vs current",
                                           "Deployment replicas: desired vs available")
SATURATION_STEPS = p.steps("green", (0.5, "orange"), (0.8, "red"))
NEEDS_KSM = "needs kube-state-metrics (Kubernetes)"


def _ksm(name: str, sel: str, legend: str) -> p.PromTarget:
    return p.target(q.sum_by(q.series(q.external(name), sel), ("namespace", legend)), f"{{{{{legend}}}}}")


def _signals(cfg: DashboardConfig) -> Section:
    target = cfg.queue_length_target
    return Section("Autoscaling signals (what the HPA reads)", [
        Cell(p.timeseries("Queue length per pod (HPA metric)", "Requests waiting for inference: the "
                          "average over pods is what the HPA compares to its target (dashed).",
                          [p.target(f"avg({q.series(c.QUEUE_LENGTH.name, S)})", "average per pod"),
                           p.target(q.sum_by(q.series(c.QUEUE_LENGTH.name, S), ("instance",)), "{{instance}}")],
                          unit="short", thresholds=p.steps("green", (target, "red")), show_thresholds=True,
                          links=[dashboard_link("agentwatch-overview", "Agent overview")]), 8, 8),
        Cell(p.timeseries("Average inference time (HPA metric)", "Mean forward-pass time per pod; rises "
                          "when a pod's CPU is saturated.",
                          [p.target(q.histogram_average(c.INFERENCE_DURATION, S, W), "all pods"),
                           p.target(q.histogram_average(c.INFERENCE_DURATION, S, W, ("instance",)),
                                    "{{instance}}")],
                          unit="s", thresholds=p.steps("green", (0.1, "orange"), (0.5, "red")),
                          show_thresholds=True), 8, 8),
        Cell(p.timeseries("Saturation (queue length / capacity)", "1 means the queue is full and new "
                          "requests get 429 overloaded.", [p.target(q.queue_saturation(S), "{{instance}}")],
                          unit="percentunit", thresholds=SATURATION_STEPS, show_thresholds=True, max_one=True),
             8, 8),
    ])


def _replicas() -> Section:
    hpa = q.join_selectors(NS, q.selector(horizontalpodautoscaler="~$hpa"))
    deployment = q.join_selectors(NS, q.selector(deployment="~$deployment"))
    return Section("Replicas", [
        Cell(p.timeseries(KUBERNETES_ONLY_PANELS[0], "HPA desired and current replicas against its min and "
                          "max (kube-state-metrics).",
                          [_ksm(f"kube_horizontalpodautoscaler_{kind}_replicas", hpa, "horizontalpodautoscaler")
                           for kind in ("status_desired", "status_current", "spec_min", "spec_max")],
                          unit="short", thresholds=p.steps("green"), no_value=NEEDS_KSM), 8, 8),
        Cell(p.timeseries(KUBERNETES_ONLY_PANELS[1], "Deployment replicas requested vs running "
                          "(kube-state-metrics).",
                          [_ksm(f"kube_deployment_{kind}_replicas", deployment, "deployment")
                           for kind in ("spec", "status")],
                          unit="short", thresholds=p.steps("green"), no_value=NEEDS_KSM), 8, 8),
        Cell(p.timeseries("Instances up and ready", "Agent processes Prometheus scrapes and those "
                          "answering /readyz; works without Kubernetes.",
                          [p.target(q.sum_by(q.series(q.external("up"), S)), "up"),
                           p.target(q.sum_by(q.series(c.READY.name, S)), "ready")],
                          unit="short", thresholds=p.steps("red", (1, "green"))), 8, 8),
    ])


def _resources() -> Section:
    def requests(resource: str) -> list[p.PromTarget]:
        sel = q.join_selectors(NS, q.selector(resource=resource))
        return [p.target(q.sum_by(q.series(q.external(f"kube_pod_container_resource_{kind}"), sel), ("pod",)),
                         f"{kind} {{{{pod}}}}") for kind in ("requests", "limits")]

    return Section("Resources per pod", [
        Cell(p.timeseries("CPU per pod", "CPU cores used per agent pod (cAdvisor; without it, the process's "
                          "own CPU time), with requests and limits on Kubernetes.",
                          [p.target(q.cpu_cores_per_pod(NS, S, W), "{{pod}}{{instance}}"), *requests("cpu")],
                          unit="short", thresholds=p.steps("green")), 8, 8),
        Cell(p.timeseries("Memory per pod", "Working-set bytes per agent pod (cAdvisor; without it, the "
                          "process RSS), with requests and limits on Kubernetes.",
                          [p.target(q.memory_bytes_per_pod(NS, S), "{{pod}}{{instance}}"), *requests("memory")],
                          unit="bytes", thresholds=p.steps("green")), 8, 8),
        Cell(p.timeseries("Load per pod", "Request rate and in-flight requests per instance: uneven load "
                          "means the Service is not spreading traffic.",
                          [p.target(q.request_rate(S, W, ("instance",)), "req/s {{instance}}"),
                           p.target(q.sum_by(q.series(c.INFLIGHT_REQUESTS.name, S), ("instance",)),
                                    "in flight {{instance}}")],
                          unit="short", thresholds=p.steps("green")), 8, 8),
    ])


def _k8s_variables() -> list[Variable]:
    def var(name: str, label: str, metric: str, kind: str) -> Variable:
        query = f"label_values({q.series(q.external(metric), NS)}, {kind})"
        return Variable(name=name, label=label, query=query, dataSource=p.PROMETHEUS_DS, includeAll=True,
                        multi=True, allValue=".*", refresh=2, sort=1,
                        description=f"Kubernetes {kind} (kube-state-metrics); empty outside Kubernetes.")

    return [var("hpa", "HPA", "kube_horizontalpodautoscaler_spec_max_replicas", "horizontalpodautoscaler"),
            var("deployment", "Deployment", "kube_deployment_spec_replicas", "deployment")]


def build(cfg: DashboardConfig, note: str) -> g.Dashboard:
    """The capacity dashboard; ``cfg.queue_length_target`` draws the HPA's target line."""
    sections = [_signals(cfg), _replicas(), _resources()]
    return build_dashboard(
        STEM, "Is the fleet big enough? The HPA's signals, saturation, replicas and per-pod resources.",
        sections, [*datasource_variables(jaeger=False), *agent_variables(cfg.selector), *_k8s_variables()],
        tags=["capacity", "autoscaling"], time_from="now-3h", refresh="30s", generated_note=note,
        emitted=cfg.emitted)
