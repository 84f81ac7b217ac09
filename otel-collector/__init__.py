"""OpenTelemetry Collector (contrib) config for the compose stack: forwards what the agents keep.

The agents sample their own traces when a request ends (``agentwatch.telemetry.sampling``: every
failed and every slow trace, a trace-id share of the rest), so the Collector keeps every span it
receives: a second sampler here could only drop traces the agents chose to keep, whose exemplars
are already on the latency panels. No span metrics either: computed from kept traces they would
over-count errors and slow requests; the agents' own ``/metrics`` are the unbiased R.E.D. source.

Input: the spec (unused today). Output: the text of ``otel-collector/generated/config.yaml``
for ``otel/opentelemetry-collector-contrib``. Pure: no I/O.

Pipeline (why: ``otel-collector/README.md``)::

    otlp ── traces: memory_limiter, batch ── otlp_grpc/jaeger

Component type names are the current ones (contrib 0.159.0): ``otlp_grpc`` replaced the ``otlp``
exporter name (the old name is an alias).
"""

from __future__ import annotations

from agentwatch.artefacts import dump_yaml
from agentwatch.spec.model import Spec

__all__ = [
    "COLLECTOR_CONFIG",
    "HEALTH_PORT",
    "JAEGER_OTLP",
    "MEMORY_LIMIT_MIB",
    "TELEMETRY_PORT",
    "collector_config",
    "render",
]

#: Where the generated config is committed (relative to the repository root).
COLLECTOR_CONFIG = "otel-collector/generated/config.yaml"
#: Jaeger v2's OTLP/gRPC receiver, as the compose service name resolves it.
JAEGER_OTLP = "jaeger:4317"
TELEMETRY_PORT = 8888
HEALTH_PORT = 13133
#: Hard heap limit; the compose service's memory limit leaves ~80 MiB above it (GOMEMLIMIT below it).
MEMORY_LIMIT_MIB = 320


def collector_config(spec: Spec) -> str:
    """The Collector config text (``spec`` shapes nothing today: sampling moved into the agents,
    which read the latency threshold from their settings)."""
    config = {
        "extensions": {"health_check": {"endpoint": f"0.0.0.0:{HEALTH_PORT}"}},
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "0.0.0.0:4317"},
                                             "http": {"endpoint": "0.0.0.0:4318"}}}},
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_mib": MEMORY_LIMIT_MIB,
                               "spike_limit_mib": MEMORY_LIMIT_MIB // 5},
            "batch": {"send_batch_size": 1024, "timeout": "2s"},
        },
        "exporters": {"otlp_grpc/jaeger": {"endpoint": JAEGER_OTLP, "tls": {"insecure": True}}},
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                # No sampler: the agents already kept exactly the traces worth storing.
                "traces": {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"],
                           "exporters": ["otlp_grpc/jaeger"]},
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
