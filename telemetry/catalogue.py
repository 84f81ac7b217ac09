"""The metric catalogue: the only place a metric's name, labels or buckets are spelled.

Everything that names a metric — the agent, the telemetry library, alert and recording rules,
dashboards, the prometheus-adapter config, tests — imports it from here. Names follow Prometheus
conventions: base units (``_seconds``), ``_total`` on counters.

Each label has a *closed* set of values. A value outside the set can never create a series: the
recording layer raises in strict mode (tests) and folds it into ``other`` in production. Two sets
are closed per process rather than in this file: ``route`` (the app's route templates, registered
when the app is instrumented) and ``model`` (model names the operator configures).

Usage::

    from agentwatch.telemetry import catalogue as c
    c.REQUEST_DURATION.name      # 'agent_request_duration_seconds'
    c.REQUEST_DURATION.count     # 'agent_request_duration_seconds_count'
    c.ERRORS.labels              # ('error_class',)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CATALOGUE_BY_NAME",
    "DECLARABLE_LABELS",
    "ERROR_CLASSES",
    "ERROR_CLASS_STATUS",
    "ESCALATED",
    "ESCALATION_REASONS",
    "EXEMPLAR_SPAN_ID",
    "EXEMPLAR_TRACE_ID",
    "EXTERNAL_METRICS",
    "INTENTS",
    "LABELS",
    "LIBRARY_ERROR_CLASSES",
    "METRICS",
    "METRIC_GROUPS",
    "OTHER",
    "OUTCOMES",
    "PROCESS_CPU_SECONDS",
    "PROCESS_RESIDENT_MEMORY",
    "RESOLVED",
    "STATE_STORE_UNAVAILABLE",
    "LabelDef",
    "MetricDef",
    "bucket_label",
    "by_name",
]

Kind = Literal["counter", "gauge", "histogram"]

#: Value every out-of-set label value is folded into in production.
OTHER = "other"
#: Exemplar labels: the trace id (Grafana's ``exemplarTraceIdDestinations`` names it) and span id.
EXEMPLAR_TRACE_ID = "trace_id"
EXEMPLAR_SPAN_ID = "span_id"

# --- Closed label value sets -----------------------------------------------------------------

#: Error classes, with the HTTP status each maps to at the API edge.
ERROR_CLASS_STATUS: Mapping[str, int] = {
    "bad_request": 400,
    "context_not_found": 404,
    "route_not_found": 404,
    "method_not_allowed": 405,
    "request_timeout": 408,
    "conversation_closed": 409,
    "payload_too_large": 413,
    "overloaded": 429,
    "internal": 500,
    "injected_fault": 500,
    "model_not_loaded": 503,
    "state_store_unavailable": 503,
    "shutting_down": 503,
    "inference_timeout": 504,
}
ERROR_CLASSES: tuple[str, ...] = tuple(ERROR_CLASS_STATUS)
#: The class the state-store-errors KPI reads.
STATE_STORE_UNAVAILABLE = "state_store_unavailable"
#: The classes the library itself answers with at the HTTP edge, queue and readiness checks; every
#: application has them, whatever else it declares (``agentwatch.telemetry.closed_sets``).
LIBRARY_ERROR_CLASSES: Mapping[str, int] = {
    name: ERROR_CLASS_STATUS[name]
    for name in ("bad_request", "route_not_found", "method_not_allowed", "request_timeout", "payload_too_large",
                 "overloaded", "internal", "model_not_loaded", "shutting_down", "inference_timeout")
}

#: Customer-service intents the reference agent classifies (an application declares its own).
INTENTS: tuple[str, ...] = (
    "order_status",
    "refund",
    "cancellation",
    "shipping",
    "billing",
    "account",
    "product_question",
    "complaint",
    "human_agent",
    "greeting",
    "goodbye",
    "other",
)

#: Why a conversation was handed to a human.
ESCALATION_REASONS: tuple[str, ...] = (
    "user_request",
    "low_confidence",
    "repeated_complaint",
    "max_turns",
)

#: Outcome values the escalation-rate and first-contact-resolution KPIs read.
RESOLVED, ESCALATED = "resolved", "escalated"
#: How a conversation ended. ``resolved`` means resolved without escalation (first contact);
#: ``abandoned`` is the client saying the user gave up; ``timed_out`` is a conversation nobody closed,
#: ended by the agent after the configured idle time (so every started conversation ends once).
OUTCOMES: tuple[str, ...] = (RESOLVED, ESCALATED, "abandoned", "timed_out")

HTTP_METHODS: tuple[str, ...] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: Every status code a response can carry; the set is finite, so it is closed too.
HTTP_CODES: tuple[str, ...] = tuple(str(c) for c in range(100, 600))
INFERENCE_OPERATIONS: tuple[str, ...] = ("classify", "embed", "generate", "warmup")
TOKEN_TYPES: tuple[str, ...] = ("input", "output")
STATE_OPERATIONS: tuple[str, ...] = ("fetch", "save")


#: Label sets an application declares (spec ``application:`` or ``Telemetry.declare``): field → label.
DECLARABLE_LABELS: Mapping[str, str] = {
    "intents": "intent",
    "error_classes": "error_class",
    "models": "model",
    "outcomes": "outcome",
    "escalation_reasons": "reason",
}


@dataclass(frozen=True)
class LabelDef:
    """A label name and its closed value set.

    ``values`` is ``None`` for sets closed per process (``route``, ``model``): the set is
    registered at start-up by code the operator controls, never by a request.
    """

    name: str
    values: tuple[str, ...] | None
    description: str


LABELS: Mapping[str, LabelDef] = {
    d.name: d
    for d in (
        LabelDef("route", None, "Route template (never the raw path); 'unmatched' for unknown paths."),
        LabelDef("method", HTTP_METHODS, "HTTP request method."),
        LabelDef("code", HTTP_CODES, "HTTP response status code."),
        LabelDef("model", None, "Model name as configured by the operator."),
        LabelDef("operation", INFERENCE_OPERATIONS, "Inference operation."),
        LabelDef("error_class", ERROR_CLASSES, "Closed error taxonomy; also the span's error.type."),
        LabelDef("intent", INTENTS, "Classified customer intent."),
        LabelDef("reason", ESCALATION_REASONS, "Why the conversation was escalated."),
        LabelDef("outcome", OUTCOMES, "How the conversation ended."),
        LabelDef("token_type", TOKEN_TYPES, "gen_ai.token.type: input or output tokens."),
        LabelDef("version", None, "The agent's version: AGENT_VERSION, else OTEL service.version, else "
                 "the agentwatch version."),
        LabelDef("agentwatch_version", None, "Version of the agentwatch library in the process."),
        LabelDef("model_revision", None, "Revision of the served model (AGENT_MODEL_REVISION or detected)."),
    )
}

# --- Bucket layouts -------------------------------------------------------------------------

#: Request latency. Includes every latency-SLO threshold the spec may choose (0.1 ... 10 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Model forward passes, queue waits: finer at the low end.
INFERENCE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Redis round trips.
STATE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
TURN_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096)


#: What emits each group of metrics. A spec's ``application.metrics`` names the groups a service
#: emits; dashboards hide panels on the others and KPI alerts must read emitted ones.
METRIC_GROUPS: Mapping[str, str] = {
    "http": "Telemetry.instrument_app: request latency by route and code, in-flight requests, build info",
    "errors": "agentwatch.telemetry.errors: failed requests by closed error class",
    "readiness": "agentwatch.telemetry.readiness: the ready gauge and the cold start",
    "model": "agentwatch.telemetry.readiness model loading: loaded gauge and load time per model",
    "queue": "agentwatch.telemetry.batching: queue length, capacity and wait",
    "inference": "agentwatch.telemetry.batching (or your own spans): forward-pass time and batch size",
    "state": "conversation-state store round trips (the reference agent's Redis)",
    "conversations": "conversations started and ended by outcome, turns, escalations",
    "intents": "messages by intent and the classification confidence",
    "generation": "generative backend: time to first token, tokens",
}


@dataclass(frozen=True)
class MetricDef:
    """One metric: the exposed name, its kind, unit, closed label names, buckets and group."""

    name: str
    kind: Kind
    unit: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    #: The ``METRIC_GROUPS`` entry whose code emits it.
    group: str = "http"
    #: Smallest value an observation can take, when it is the first bucket's bound (counts of
    #: things: batch size, turns). ``histogram_quantile`` interpolates the first bucket from 0, so
    #: a p90 of batches that are all 1 reads 0.9; queries floor quantiles at this value.
    minimum: float | None = None

    def __post_init__(self) -> None:
        if self.group not in METRIC_GROUPS:
            raise ValueError(f"{self.name}: group {self.group!r} is not in METRIC_GROUPS")
        if self.kind == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name} must end in _total")
        if (self.kind == "histogram") != (self.buckets is not None):
            raise ValueError(f"{self.name}: buckets are required for histograms and only for them")
        if self.minimum is not None and (not self.buckets or self.buckets[0] != self.minimum):
            raise ValueError(f"{self.name}: minimum must be the first bucket bound")
        unknown = [label for label in self.labels if label not in LABELS]
        if unknown:
            raise ValueError(f"{self.name}: labels {unknown} are not in LABELS")

    # Series names derived from the metric, so nobody re-spells a suffix.
    @property
    def bucket(self) -> str:
        return self._suffixed("histogram", "_bucket")

    @property
    def count(self) -> str:
        return self._suffixed("histogram", "_count")

    @property
    def sum(self) -> str:
        return self._suffixed("histogram", "_sum")

    def _suffixed(self, kind: Kind, suffix: str) -> str:
        if self.kind != kind:
            raise AttributeError(f"{self.name} is a {self.kind}, it has no {suffix} series")
        return self.name + suffix

    @property
    def series_names(self) -> tuple[str, ...]:
        """Names of every sample family this metric exposes (``_created`` excluded)."""
        if self.kind == "histogram":
            return (self.bucket, self.count, self.sum)
        return (self.name,)


# --- The metrics ----------------------------------------------------------------------------

REQUEST_DURATION = MetricDef(
    "agent_request_duration_seconds", "histogram", "seconds",
    "Time to serve an HTTP request, by route template, method and status code.",
    ("route", "method", "code"), LATENCY_BUCKETS,
)
INFLIGHT_REQUESTS = MetricDef(
    "agent_inflight_requests", "gauge", "requests",
    "HTTP requests being served right now.",
)
INFERENCE_DURATION = MetricDef(
    "agent_inference_duration_seconds", "histogram", "seconds",
    "Time of one model forward pass (a whole batch), by model and operation.",
    ("model", "operation"), INFERENCE_BUCKETS,
    group="inference",
)
INFERENCE_BATCH_SIZE = MetricDef(
    "agent_inference_batch_size", "histogram", "requests",
    "Requests answered by one forward pass.",
    (), BATCH_SIZE_BUCKETS, minimum=1,
    group="inference",
)
QUEUE_LENGTH = MetricDef(
    "agent_queue_length", "gauge", "requests",
    "Requests waiting for inference.",
    group="queue",
)
QUEUE_CAPACITY = MetricDef(
    "agent_queue_capacity", "gauge", "requests",
    "Size of the inference queue; beyond it requests are rejected as overloaded.",
    group="queue",
)
QUEUE_WAIT = MetricDef(
    "agent_queue_wait_seconds", "histogram", "seconds",
    "Time a request waited in the queue before its batch started.",
    (), INFERENCE_BUCKETS,
    group="queue",
)
STATE_FETCH_DURATION = MetricDef(
    "agent_state_fetch_duration_seconds", "histogram", "seconds",
    "Time to read a conversation's recent turns from the state store.",
    (), STATE_BUCKETS,
    group="state",
)
STATE_SAVE_DURATION = MetricDef(
    "agent_state_save_duration_seconds", "histogram", "seconds",
    "Time to append turns to a conversation in the state store.",
    (), STATE_BUCKETS,
    group="state",
)
ERRORS = MetricDef(
    "agent_errors_total", "counter", "errors",
    "Failed requests by closed error class; every non-2xx response counts once.",
    ("error_class",),
    group="errors",
)
CONVERSATIONS_STARTED = MetricDef(
    "agent_conversations_started_total", "counter", "conversations",
    "Conversations that received their first message.",
    group="conversations",
)
CONVERSATIONS_ENDED = MetricDef(
    "agent_conversations_ended_total", "counter", "conversations",
    "Conversations ended, by outcome. First-contact resolution = resolved / all outcomes.",
    ("outcome",),
    group="conversations",
)
ESCALATIONS = MetricDef(
    "agent_escalations_total", "counter", "conversations",
    "Conversations handed to a human, by reason.",
    ("reason",),
    group="conversations",
)
CONVERSATION_TURNS = MetricDef(
    "agent_conversation_turns", "histogram", "turns",
    "User turns per conversation, observed when the conversation ends.",
    (), TURN_BUCKETS, minimum=1,
    group="conversations",
)
INTENTS_TOTAL = MetricDef(
    "agent_intents_total", "counter", "messages",
    "Messages by classified intent.",
    ("intent",),
    group="intents",
)
INTENT_CONFIDENCE = MetricDef(
    "agent_intent_confidence", "histogram", "ratio",
    "Confidence of the intent classification (cosine similarity to the nearest prototype).",
    (), CONFIDENCE_BUCKETS,
    group="intents",
)
MODEL_LOADED = MetricDef(
    "agent_model_loaded", "gauge", "bool",
    "1 once the model is loaded and has answered its warm-up call, else 0.",
    ("model",),
    group="model",
)
MODEL_LOAD_DURATION = MetricDef(
    "agent_model_load_duration_seconds", "gauge", "seconds",
    "Time the last model load took (weights read and warm-up).",
    ("model",),
    group="model",
)
COLD_START_DURATION = MetricDef(
    "agent_cold_start_duration_seconds", "gauge", "seconds",
    "Process start to ready: imports, model load and warm-up.",
    group="readiness",
)
READY = MetricDef(
    "agent_ready", "gauge", "bool",
    "1 while the instance answers /readyz with 200.",
    group="readiness",
)
GENERATION_TTFT = MetricDef(
    "agent_generation_time_to_first_token_seconds", "histogram", "seconds",
    "Generative backend: time to the first generated token.",
    ("model",), INFERENCE_BUCKETS,
    group="generation",
)
GENERATION_TOKENS = MetricDef(
    "agent_generation_tokens_total", "counter", "tokens",
    "Generative backend: tokens processed, by gen_ai.token.type.",
    ("model", "token_type"),
    group="generation",
)
BUILD_INFO = MetricDef(
    "agent_build_info", "gauge", "info",
    "Always 1, one series per process; carries the agent's version and model. Join it to put the "
    "version on any series: `* on (job, instance) group_left (version) agent_build_info`.",
    ("version", "agentwatch_version", "model", "model_revision"),
)

METRICS: tuple[MetricDef, ...] = (
    REQUEST_DURATION,
    INFLIGHT_REQUESTS,
    INFERENCE_DURATION,
    INFERENCE_BATCH_SIZE,
    QUEUE_LENGTH,
    QUEUE_CAPACITY,
    QUEUE_WAIT,
    STATE_FETCH_DURATION,
    STATE_SAVE_DURATION,
    ERRORS,
    CONVERSATIONS_STARTED,
    CONVERSATIONS_ENDED,
    ESCALATIONS,
    CONVERSATION_TURNS,
    INTENTS_TOTAL,
    INTENT_CONFIDENCE,
    MODEL_LOADED,
    MODEL_LOAD_DURATION,
    COLD_START_DURATION,
    READY,
    GENERATION_TTFT,
    GENERATION_TOKENS,
    BUILD_INFO,
)

CATALOGUE_BY_NAME: Mapping[str, MetricDef] = {m.name: m for m in METRICS}


def by_name(name: str) -> MetricDef:
    """Look a metric up by name, or by one of its series names (``..._bucket``, ``..._count``)."""
    if name in CATALOGUE_BY_NAME:
        return CATALOGUE_BY_NAME[name]
    for metric in METRICS:
        if name in metric.series_names:
            return metric
    raise KeyError(f"metric {name!r} is not in the agentwatch catalogue")


# --- Metrics from other exporters that dashboards and autoscalers may read ---------------------
#: The process collector's CPU and RSS series (capacity runs and ``recommend`` read them by name).
PROCESS_CPU_SECONDS = "process_cpu_seconds_total"
PROCESS_RESIDENT_MEMORY = "process_resident_memory_bytes"
#: name -> source. Listed once, so a test can tell a typo from an external series.
EXTERNAL_METRICS: Mapping[str, str] = {
    "up": "Prometheus (scrape health)",
    "ALERTS": "Prometheus (alert state)",
    "kube_deployment_status_replicas": "kube-state-metrics",
    "kube_deployment_spec_replicas": "kube-state-metrics",
    "kube_horizontalpodautoscaler_status_desired_replicas": "kube-state-metrics",
    "kube_horizontalpodautoscaler_status_current_replicas": "kube-state-metrics",
    "kube_horizontalpodautoscaler_spec_max_replicas": "kube-state-metrics",
    "kube_horizontalpodautoscaler_spec_min_replicas": "kube-state-metrics",
    "kube_pod_container_resource_requests": "kube-state-metrics",
    "kube_pod_container_resource_limits": "kube-state-metrics",
    "container_cpu_usage_seconds_total": "cAdvisor (kubelet)",
    "container_memory_working_set_bytes": "cAdvisor (kubelet)",
    PROCESS_CPU_SECONDS: "prometheus_client process collector",
    PROCESS_RESIDENT_MEMORY: "prometheus_client process collector",
    "process_start_time_seconds": "prometheus_client process collector",
    "process_virtual_memory_bytes": "prometheus_client process collector",
    "process_open_fds": "prometheus_client process collector",
    "process_max_fds": "prometheus_client process collector",
}


def bucket_label(bound: float) -> str:
    """The ``le`` label value Prometheus stores for a bucket bound, as client_python exposes it
    (``1`` → ``"1.0"``). Rules selecting a bucket must use this, not ``str(bound)``."""
    from prometheus_client.utils import floatToGoString

    return floatToGoString(bound)
