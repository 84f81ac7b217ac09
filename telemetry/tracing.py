"""Tracer provider set-up: resource attributes, parent-based ratio sampling, OTLP/HTTP export."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from agentwatch.telemetry.settings import TelemetrySettings

__all__ = ["build_resource", "build_tracer_provider"]


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


def build_tracer_provider(settings: TelemetrySettings,
                          exporters: Iterable[SpanExporter] = ()) -> TracerProvider:
    """A provider exporting in batches to OTLP/HTTP when an endpoint is configured, plus ``exporters``.

    ``OTEL_TRACES_SAMPLER`` set: the SDK picks the sampler from the environment. Otherwise
    parent-based ratio sampling with ``settings.sample_ratio``, so a caller's decision is kept.
    """
    sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else ParentBased(
        TraceIdRatioBased(settings.sample_ratio))
    provider = TracerProvider(resource=build_resource(settings), sampler=sampler)
    if settings.otlp_endpoint and settings.export_traces:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
