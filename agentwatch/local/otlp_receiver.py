"""A real OTLP/HTTP trace receiver on a free loopback port: decodes every export request.

Tests keep the decoded spans to assert on them; benchmarks only count them, so it can absorb tens
of thousands of spans a second while proving the service really exported what it traced. With
``json_lines`` every export request is also appended to that file as one OTLP JSON line, the
format the Collector's file exporter writes (``agentwatch traces`` draws them).

Hand-written on ``http.server`` and the OTLP protobuf types: the Collector and Jaeger have no binary
on these machines, and no maintained Python package receives OTLP/HTTP (the SDK only exports).

Usage::

    with OtlpReceiver() as receiver:              # OtlpReceiver(keep_spans=False) to only count
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        ...
        receiver.spans, receiver.span_count, receiver.requests
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from agentwatch.local.processes import free_port

__all__ = ["OtlpReceiver"]

_OK = ExportTraceServiceResponse().SerializeToString()


class OtlpReceiver:
    """``POST /v1/traces`` protobuf bodies are decoded, counted and (``keep_spans``) kept as dicts."""

    def __init__(self, keep_spans: bool = True, json_lines: str | Path | None = None) -> None:
        self.port = free_port()
        self.keep_spans = keep_spans
        self.json_lines: IO[str] | None = open(json_lines, "a") if json_lines else None  # noqa: SIM115
        self.spans: list[dict[str, Any]] = []
        self.span_count = 0
        self.requests = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                request = ExportTraceServiceRequest()
                request.ParseFromString(self.rfile.read(int(self.headers.get("content-length", 0))))
                receiver._receive(request)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(_OK)))
                self.end_headers()
                self.wfile.write(_OK)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="otlp-receiver")

    def _receive(self, request: ExportTraceServiceRequest) -> None:
        line = None
        if self.json_lines is not None:
            from agentwatch.traces.otlp_json import request_to_json

            line = json.dumps(request_to_json(request), separators=(",", ":")) + "\n"
        decoded = []
        count = 0
        for resource_spans in request.resource_spans:
            resource = ({kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
                        if self.keep_spans else {})
            for scope_spans in resource_spans.scope_spans:
                count += len(scope_spans.spans)
                if self.keep_spans:
                    decoded.extend(_span_dict(span, resource) for span in scope_spans.spans)
        with self.lock:
            self.spans.extend(decoded)
            self.span_count += count
            self.requests += 1
            if line is not None and self.json_lines is not None:
                self.json_lines.write(line)
                self.json_lines.flush()

    def snapshot(self) -> int:
        """Spans received so far."""
        with self.lock:
            return self.span_count

    @property
    def endpoint(self) -> str:
        """Base URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the exporter appends ``/v1/traces``)."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.json_lines is not None:
            self.json_lines.close()


def _span_dict(span: Any, resource: dict[str, str]) -> dict[str, Any]:
    return {
        "name": span.name,
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex(),
        "start_ns": span.start_time_unix_nano,
        "end_ns": span.end_time_unix_nano,
        "kind": span.kind,
        "status": span.status.code,
        "attributes": {kv.key: _value(kv.value) for kv in span.attributes},
        "resource": resource,
    }


def _value(value: Any) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None
