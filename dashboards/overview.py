"""Agent overview: traffic, errors, latency (with exemplars and a heatmap), inference, queue, state
store and model lifecycle of the agent processes selected by ``$job``/``$version``/``$instance``,
and the release comparison: the versions running side by side (error ratio, p99 latency,
escalation rate, first-contact resolution, the SLIs) from the by-version recording rules, with an
annotation where a version appears."""

from __future__ import annotations

from grafanalib import core as g

from agentwatch import promql as q
from agentwatch.alerts import conventions as cv
from agentwatch.dashboards import panels as p
from agentwatch.dashboards.common import build_dashboard, dashboard_link
from agentwatch.dashboards.config import DashboardConfig
from agentwatch.dashboards.layout import Cell, Section
from agentwatch.dashboards.variables import AGENT_SELECTOR as S
from agentwatch.dashboards.variables import PROMETHEUS_DS, VERSION_SELECTOR, agent_variables, datasource_variables
from agentwatch.telemetry import catalogue as c

__all__ = ["STEM", "build"]

STEM = "agentwatch-overview"
W = "$__rate_interval"
ERROR_STEPS = p.steps("green", (0.01, "orange"), (0.05, "red"))


def _quantiles(metric: c.MetricDef, by: tuple[str, ...] = (), legend: str = "") -> list[p.PromTarget]:
    """p50/p90/p99 of a histogram; the p99 target carries exemplars (trace ids → Jaeger)."""
    return [p.target(q.histogram_quantile(quantile, metric, S, W, by), f"p{round(quantile * 100)}{legend}",
                     exemplar=quantile == 0.99) for quantile in (0.5, 0.9, 0.99)]


def _latency_steps(threshold: float) -> list[dict]:
    return p.steps("green", (threshold, "orange"), (threshold * 4, "red"))


def _traffic(slo_link: dict) -> Section:
    return Section("Traffic and errors", [
        Cell(p.stat("Request rate", "HTTP requests per second served by the selected agents.",
                    [p.target(q.request_rate(S, W))], unit="reqps", thresholds=p.steps("blue")), 4, 4),
        Cell(p.stat("5xx error ratio", "Share of requests answered 5xx (4xx are the client's fault).",
                    [p.target(q.error_ratio(S, W))], unit="percentunit", thresholds=ERROR_STEPS,
                    no_value="0 (no traffic)", links=[slo_link]), 4, 4),
        Cell(p.stat("Instances up", "Agent scrape targets Prometheus reaches (`up`).",
                    [p.target(q.sum_by(q.series(q.external("up"), S)))], unit="short",
                    thresholds=p.steps("red", (1, "green"))), 4, 4),
        Cell(p.stat("Instances ready", "Agents answering /readyz with 200 (model loaded, not draining).",
                    [p.target(q.sum_by(q.series(c.READY.name, S)))], unit="short",
                    thresholds=p.steps("red", (1, "green"))), 4, 4),
        Cell(p.stat("In-flight requests", "HTTP requests being served right now, all selected agents.",
                    [p.target(q.sum_by(q.series(c.INFLIGHT_REQUESTS.name, S)))], unit="short",
                    thresholds=p.steps("green", (32, "orange"), (64, "red"))), 4, 4),
        Cell(p.stat("Running versions", "Distinct agent versions (AGENT_VERSION) among the selected processes; "
                    "more than one during a rollout. The release comparison row sets them side by side.",
                    [p.target(q.running_versions(S))], unit="short", decimals=0,
                    thresholds=p.steps("blue", (2, "purple"))), 4, 4),
        Cell(p.timeseries("Requests by route and code", "Request rate split by route template and status.",
                          [p.target(q.request_rate(S, W, ("route", "code")), "{{route}} {{code}}")],
                          unit="reqps", thresholds=p.steps("blue")), 12, 8),
        Cell(p.timeseries("Failed-request ratio by error class",
                          "Share of requests failing with each closed error class (any non-2xx); "
                          "the span's error.type carries the same value.",
                          [p.target(q.errors_ratio_by_class(S, W), "{{error_class}}")], unit="percentunit",
                          thresholds=ERROR_STEPS, show_thresholds=True, stack=True), 12, 8),
    ])


def _latency(cfg: DashboardConfig, jaeger: dict) -> Section:
    steps = _latency_steps(cfg.latency_threshold_seconds)
    return Section("Latency", [
        Cell(p.timeseries("Request latency p50 / p90 / p99",
                          "Quantiles of HTTP request time from the histogram; exemplar dots link to the "
                          "request's trace in Jaeger. Dashed lines: latency-SLO threshold and 4x it.",
                          _quantiles(c.REQUEST_DURATION), unit="s", thresholds=steps, show_thresholds=True,
                          links=[jaeger]), 12, 9),
        Cell(p.heatmap("Request latency heatmap",
                       "Requests per latency bucket over time; exemplars (trace ids) link to Jaeger.",
                       q.histogram_buckets(c.REQUEST_DURATION, S, W), unit="s", thresholds=steps,
                       links=[jaeger]), 12, 9),
    ])


def _inference(jaeger: dict) -> Section:
    return Section("Inference and queue", [
        Cell(p.timeseries("Inference time by operation",
                          "Model forward-pass time (one whole batch) p50/p99 by operation; exemplars link to "
                          "the batch's trace.",
                          [t for quantile in (0.5, 0.99) for t in [p.target(
                              q.histogram_quantile(quantile, c.INFERENCE_DURATION, S, W, ("operation",)),
                              f"p{round(quantile * 100)} {{{{operation}}}}", exemplar=quantile == 0.99)]],
                          unit="s", thresholds=p.steps("green", (0.1, "orange"), (0.5, "red")),
                          links=[jaeger]), 8, 8),
        Cell(p.timeseries("Batch size", "Requests answered per forward pass: mean and p90. Larger batches "
                          "mean better throughput per core.",
                          [p.target(q.histogram_average(c.INFERENCE_BATCH_SIZE, S, W), "mean"),
                           p.target(q.histogram_quantile(0.9, c.INFERENCE_BATCH_SIZE, S, W), "p90")],
                          unit="short", thresholds=p.steps("blue")), 8, 8),
        Cell(p.timeseries("Queue length and capacity", "Requests waiting for inference, per instance, "
                          "against the queue capacity (beyond it: 429 overloaded).",
                          [p.target(q.sum_by(q.series(c.QUEUE_LENGTH.name, S), ("instance",)),
                                    "length {{instance}}"),
                           p.target(q.sum_by(q.series(c.QUEUE_CAPACITY.name, S), ("instance",)),
                                    "capacity {{instance}}")],
                          unit="short", thresholds=p.steps("green")), 8, 8),
        Cell(p.timeseries("Queue wait p50 / p90 / p99", "Time a request waited before its batch started.",
                          _quantiles(c.QUEUE_WAIT), unit="s",
                          thresholds=p.steps("green", (0.05, "orange"), (0.25, "red")), links=[jaeger]), 12, 8),
        Cell(p.timeseries("State store fetch and save p50 / p99",
                          "Redis round trips to read recent turns and append new ones.",
                          [p.target(q.histogram_quantile(quantile, metric, S, W), f"{name} p{round(quantile * 100)}",
                                    exemplar=quantile == 0.99)
                           for name, metric in (("fetch", c.STATE_FETCH_DURATION), ("save", c.STATE_SAVE_DURATION))
                           for quantile in (0.5, 0.99)],
                          unit="s", thresholds=p.steps("green", (0.01, "orange"), (0.05, "red")),
                          links=[jaeger]), 12, 8),
    ])


def _lifecycle() -> Section:
    return Section("Model and process lifecycle", [
        Cell(p.stat("Model load time", "Time the last model load took (weights and warm-up), per model.",
                    [p.target(q.sum_by(q.series(c.MODEL_LOAD_DURATION.name, S), ("instance", "model")),
                              "{{model}} {{instance}}")], unit="s",
                    thresholds=p.steps("green", (10, "orange"), (30, "red"))), 8, 5),
        Cell(p.stat("Cold start", "Process start to ready: imports, model load and warm-up.",
                    [p.target(q.sum_by(q.series(c.COLD_START_DURATION.name, S), ("instance",)), "{{instance}}")],
                    unit="s", thresholds=p.steps("green", (15, "orange"), (60, "red"))), 8, 5),
        Cell(p.stat("Models loaded", "1 per model loaded and warmed up; 0 means the instance cannot answer.",
                    [p.target(q.sum_by(q.series(c.MODEL_LOADED.name, S), ("model",)), "{{model}}")],
                    unit="short", thresholds=p.steps("red", (1, "green"))), 8, 5),
    ])


#: The by-version KPI recordings read the conversation metrics (``alerts.release_rules``).
CONVERSATIONS = frozenset({c.CONVERSATIONS_ENDED.group})


def _release(cfg: DashboardConfig) -> Section:
    """Versions side by side, read from the by-version recordings (``alerts.release_rules``)."""
    sel = q.join_selectors(q.selector(service=cfg.service), VERSION_SELECTOR)
    slo_sel = q.join_selectors(q.selector(**{cv.LABEL_SERVICE: cfg.service}), VERSION_SELECTOR)
    w, kw = cfg.release_window, cfg.release_kpi_window

    def rule(template: str, window: str = "") -> str:
        return q.series(cv.version_rule(template, window), sel)

    return Section("Release comparison", [
        Cell(p.bargauge("Instances per version", "Processes running each version (agent_build_info).",
                        [p.target(rule(cv.VERSION_INSTANCES), "{{version}}")], unit="short",
                        thresholds=p.steps("blue")), 6, 7),
        Cell(p.timeseries(f"Traffic by version ({w})", "Requests per second each version serves: the "
                          "canary's share of traffic.", [p.target(rule(cv.VERSION_REQUESTS, w), "{{version}}")],
                          unit="reqps", thresholds=p.steps("blue"), stack=True, fill=30), 9, 7),
        Cell(p.timeseries(f"5xx error ratio by version ({w})", "Share of each version's requests answered 5xx; "
                          "0 while a version serves without errors.",
                          [p.target(rule(cv.VERSION_ERROR_RATIO, w), "{{version}}")], unit="percentunit",
                          thresholds=ERROR_STEPS, show_thresholds=True), 9, 7),
        Cell(p.timeseries(f"p99 latency by version ({w})", "99th percentile of message-request time per version.",
                          [p.target(rule(cv.VERSION_LATENCY_P99, w), "{{version}}")], unit="s",
                          thresholds=_latency_steps(cfg.latency_threshold_seconds), show_thresholds=True), 6, 8),
        Cell(p.timeseries(f"SLI error ratio by version ({w})", "Each SLO's bad-event ratio per version: what the "
                          "version-regression alert compares (the newest version against the ones before it).",
                          [p.target(q.series(cv.version_rule(cv.SLO_VERSION_ERROR_RATIO, w), slo_sel),
                                    f"{{{{{cv.LABEL_SLO}}}}} {{{{version}}}}")],
                          unit="percentunit", thresholds=ERROR_STEPS), 6, 8),
        Cell(p.timeseries(f"Escalation rate by version ({kw})", "Conversations handed to a human / "
                          "conversations ended, per version.", [p.target(rule(cv.VERSION_ESCALATION, kw),
                                                                         "{{version}}")],
                          unit="percentunit", thresholds=p.steps("green", (0.2, "orange"), (0.35, "red")),
                          max_one=True), 6, 8, needs=CONVERSATIONS),
        Cell(p.timeseries(f"First-contact resolution by version ({kw})", "Conversations resolved without "
                          "escalation / conversations ended, per version.",
                          [p.target(rule(cv.VERSION_FCR, kw), "{{version}}")], unit="percentunit",
                          thresholds=p.steps("red", (0.6, "orange"), (0.8, "green")), max_one=True), 6, 8,
             needs=CONVERSATIONS),
    ])


def _version_annotation(cfg: DashboardConfig) -> dict:
    """A marker where a version's first process appears (Prometheus annotation)."""
    jobs = q.join_selectors(q.selector(**dict(cfg.selector)), q.selector(namespace="~$namespace", job="~$job"))
    return {"datasource": PROMETHEUS_DS, "enable": True, "iconColor": "purple", "name": "Version appeared",
            "expr": q.version_appeared(jobs, "1m"), "step": "1m", "titleFormat": "version {{version}} appeared",
            "textFormat": "first process of this version scraped", "tagKeys": "version", "useValueForTime": False}


def build(cfg: DashboardConfig, note: str) -> g.Dashboard:
    """The overview dashboard for ``cfg`` (service name for trace links, latency threshold)."""
    jaeger = p.jaeger_link(cfg.trace_service)
    slo_link = dashboard_link("agentwatch-slos", "SLOs and error budget")
    return build_dashboard(
        STEM, "Health of the agent processes: traffic, errors, latency, inference, queue and state store.",
        [_traffic(slo_link), _release(cfg), _latency(cfg, jaeger), _inference(jaeger), _lifecycle()],
        [*datasource_variables(jaeger=True), *agent_variables(cfg.selector)],
        tags=["overview"], time_from="now-1h", refresh="30s", generated_note=note,
        annotations=[_version_annotation(cfg)],
        emitted=cfg.emitted,
    )
