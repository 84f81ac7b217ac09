"""OpenTelemetry Collector (contrib) config for the compose stack: tail sampling plus span metrics.

Input: the spec (the strictest latency-SLO threshold becomes the "slow trace" cut-off) and the
catalogue (span-metric buckets = the request-duration buckets). Output: the text of
``otel-collector/generated/config.yaml`` for ``otel/opentelemetry-collector-contrib``. Pure: no I/O.

Pipelines (why: ``otel-collector/README.md``)::

    otlp ─┬─ traces/spanmetrics: memory_limiter ─────────────────────── span_metrics ─┐
          └─ traces/sampled:     memory_limiter, tail_sampling, batch ── otlp_grpc/jaeger
    span_metrics ── metrics/spanmetrics: memory_limiter, batch ── prometheus (:8889, OpenMetrics)

Component type names are the current ones (contrib 0.159.0): ``otlp_grpc`` replaced the
``otlp`` exporter name and ``span_metrics`` replaced ``spanmetrics``; the old names are aliases.
"""

from __future__ import annotations

from agentwatch.artefacts import dump_yaml
from agentwatch.durations import go_duration
from agentwatch.spec.model import Spec
from agentwatch.telemetry import catalogue as c

__all__ = [
    "COLLECTOR_CONFIG",
    "HEALTH_PORT",
    "JAEGER_OTLP",
    "MEMORY_LIMIT_MIB",
    "PROBABILISTIC_PERCENT",
    "SPANMETRICS_PORT",
    "TELEMETRY_PORT",
    "collector_config",
    "render",
    "slow_trace_threshold_ms",
]

#: Where the generated config is committed (relative to the repository root).
COLLECTOR_CONFIG = "otel-collector/generated/config.yaml"
#: Jaeger v2's OTLP/gRPC receiver, as the compose service name resolves it.
JAEGER_OTLP = "jaeger:4317"
SPANMETRICS_PORT = 8889
TELEMETRY_PORT = 8888
HEALTH_PORT = 13133
#: Hard heap limit; the compose service's memory limit leaves ~80 MiB above it (GOMEMLIMIT below it).
MEMORY_LIMIT_MIB = 320
#: Share of ordinary (fast, successful) traces kept, in percent.
PROBABILISTIC_PERCENT = 10
#: Used when the spec has no latency SLO.
DEFAULT_SLOW_SECONDS = 1.0


def slow_trace_threshold_ms(spec: Spec) -> int:
    """The strictest latency-SLO threshold in milliseconds: every trace that could burn latency
    budget is kept."""
    thresholds = [slo.sli.latency.threshold for slo in spec.slos if slo.sli.latency is not None]
    return round(min(thresholds, default=DEFAULT_SLOW_SECONDS) * 1000)


def _tail_sampling(spec: Spec) -> dict:
    return {
        # Spans of one request arrive within milliseconds; 10 s also covers the 2 s inference deadline.
        "decision_wait": "10s",
        "num_traces": 20000,
        "expected_new_traces_per_sec": 50,
        # Late spans of an already-decided trace follow the decision instead of being re-sampled.
        "decision_cache": {"sampled_cache_size": 100000, "non_sampled_cache_size": 100000},
        "policies": [
            {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
            {"name": "slow", "type": "latency", "latency": {"threshold_ms": slow_trace_threshold_ms(spec)}},
            {"name": "baseline", "type": "probabilistic",
             "probabilistic": {"sampling_percentage": PROBABILISTIC_PERCENT}},
        ],
    }


def _span_metrics() -> dict:
    return {
        "histogram": {"unit": "s",
                      "explicit": {"buckets": [go_duration(b) for b in c.REQUEST_DURATION.buckets or ()]}},
        # error.type carries the closed error taxonomy (catalogue ERROR_CLASSES): bounded cardinality.
        "dimensions": [{"name": "error.type"}],
        "exemplars": {"enabled": True},
        "metrics_flush_interval": "15s",
        "metrics_expiration": "5m",
    }


def collector_config(spec: Spec) -> str:
    """The Collector config text for ``spec``."""
    config = {
        "extensions": {"health_check": {"endpoint": f"0.0.0.0:{HEALTH_PORT}"}},
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "0.0.0.0:4317"},
                                             "http": {"endpoint": "0.0.0.0:4318"}}}},
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_mib": MEMORY_LIMIT_MIB,
                               "spike_limit_mib": MEMORY_LIMIT_MIB // 5},
            "tail_sampling": _tail_sampling(spec),
            "batch": {"send_batch_size": 1024, "timeout": "2s"},
        },
        "connectors": {"span_metrics": _span_metrics()},
        "exporters": {
            "otlp_grpc/jaeger": {"endpoint": JAEGER_OTLP, "tls": {"insecure": True}},
            # OpenMetrics is the only format the exporter writes exemplars in.
            "prometheus": {"endpoint": f"0.0.0.0:{SPANMETRICS_PORT}", "enable_open_metrics": True},
        },
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                # Span metrics see every span, before sampling, so rates and percentiles are unbiased.
                "traces/spanmetrics": {"receivers": ["otlp"], "processors": ["memory_limiter"],
                                       "exporters": ["span_metrics"]},
                "traces/sampled": {"receivers": ["otlp"],
                                   "processors": ["memory_limiter", "tail_sampling", "batch"],
                                   "exporters": ["otlp_grpc/jaeger"]},
                "metrics/spanmetrics": {"receivers": ["span_metrics"], "processors": ["memory_limiter", "batch"],
                                        "exporters": ["prometheus"]},
            },
            "telemetry": {"metrics": {"level": "normal", "readers": [
                {"pull": {"exporter": {"prometheus": {"host": "0.0.0.0", "port": TELEMETRY_PORT}}}}]}},
        },
    }
    note = "# OpenTelemetry Collector (contrib) config of compose/; otel-collector/README.md explains it\n"
    return note + dump_yaml(config)


def render(spec: Spec) -> dict[str, str]:
    """The ``collector`` family: ``otel-collector/generated/config.yaml``."""
    return {COLLECTOR_CONFIG: collector_config(spec)}
