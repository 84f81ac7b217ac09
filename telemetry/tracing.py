"""Tracer provider set-up: resource attributes, tail (default) or head sampling, OTLP/HTTP export."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased

from agentwatch.telemetry.sampling import KeepPolicy, TailSamplingSpanProcessor
from agentwatch.telemetry.settings import TelemetrySettings

__all__ = ["build_resource", "build_tracer_provider", "head_sampler"]


def build_resource(settings: TelemetrySettings) -> Resource:
    """service.*, deployment.environment and host/pod attributes; OTEL_RESOURCE_ATTRIBUTES wins,
    except over ``service.version`` (``settings.service_version``, which already weighed it)."""
    attributes: dict[str, str] = {
        "service.name": settings.service_name,
        "service.version": settings.service_version,
        "deployment.environment.name": settings.environment,
        "host.name": socket.gethostname(),
    }
    pod = os.environ.get("K8S_POD_NAME") or os.environ.get("POD_NAME")
    if pod:
        attributes["k8s.pod.name"] = pod
    namespace = os.environ.get("K8S_NAMESPACE") or os.environ.get("POD_NAMESPACE")
    if namespace:
        attributes["k8s.namespace.name"] = namespace
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME from the environment;
    # the version stays the resolved one (AGENT_VERSION wins), so traces and agent_build_info agree.
    return (Resource(attributes).merge(Resource.create({"service.name": settings.service_name}))
            .merge(Resource({"service.version": settings.service_version})))


def head_sampler(name: str, arg: str | None) -> Sampler | None:
    """The SDK sampler ``OTEL_TRACES_SAMPLER=name`` (``OTEL_TRACES_SAMPLER_ARG=arg``) stands for.

    Built here rather than by the SDK so settings read from any mapping (not only ``os.environ``)
    apply; a name outside the specification's list (a sampler plug-in) returns ``None``: the SDK
    then loads it from the environment itself.
    """
    ratio = 1.0
    if name.endswith("traceidratio") and arg:
        try:
            ratio = float(arg)
        except ValueError:
            raise ValueError(f"OTEL_TRACES_SAMPLER_ARG={arg!r}: expected a number in [0, 1]") from None
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"OTEL_TRACES_SAMPLER_ARG={arg!r}: expected a number in [0, 1]")
    known: dict[str, Sampler] = {
        "always_on": ALWAYS_ON, "always_off": ALWAYS_OFF, "traceidratio": TraceIdRatioBased(ratio),
        "parentbased_always_on": ParentBased(ALWAYS_ON), "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBased(TraceIdRatioBased(ratio)),
    }
    return known.get(name.strip().lower())


def build_tracer_provider(settings: TelemetrySettings, exporters: Iterable[SpanExporter] = ()
                          ) -> tuple[TracerProvider, TailSamplingSpanProcessor | None]:
    """A provider exporting in batches to OTLP/HTTP when an endpoint is configured, plus ``exporters``;
    and the tail sampler in front of them (``None`` under head sampling).

    ``settings.head_sampler`` (``OTEL_TRACES_SAMPLER``) set: the SDK builds that sampler from the
    environment and every sampled span is exported. Otherwise every span is recorded (a caller's
    "not sampled" is still respected) and :class:`TailSamplingSpanProcessor` decides per trace.
    """
    exporting: list[SpanProcessor] = []
    if settings.traces_url and settings.export_traces:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporting.append(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.traces_url)))
    exporting += [BatchSpanProcessor(exporter) for exporter in exporters]
    if settings.head_sampler:
        provider = TracerProvider(resource=build_resource(settings),
                                  sampler=head_sampler(settings.head_sampler, settings.head_sampler_arg))
        for processor in exporting:
            provider.add_span_processor(processor)
        return provider, None
    provider = TracerProvider(resource=build_resource(settings), sampler=ParentBased(ALWAYS_ON))
    tail = TailSamplingSpanProcessor(exporting, KeepPolicy(settings.keep_ratio, settings.slow_seconds))
    provider.add_span_processor(tail)
    return provider, tail
