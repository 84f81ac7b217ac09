"""A real OTLP/HTTP trace receiver for benchmarks: decodes every export request and counts spans.

Unlike the test receiver it keeps no span data, only counts, so it can absorb tens of thousands
of spans a second; the count proves the service under test really exported what it traced.

Usage::

    with OtlpSink() as sink:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint}
        ...
        sink.spans, sink.requests
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from agentwatch.services import free_port

__all__ = ["OtlpSink"]

_OK = ExportTraceServiceResponse().SerializeToString()


class OtlpSink:
    """Listens on a free loopback port; ``POST /v1/traces`` protobuf bodies are decoded and counted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.spans = 0
        self.requests = 0
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                count = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
                with sink._lock:
                    sink.spans += count
                    sink.requests += 1
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(_OK)))
                self.end_headers()
                self.wfile.write(_OK)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="otlp-sink")

    @property
    def endpoint(self) -> str:
        """Base URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the exporter appends ``/v1/traces``)."""
        return f"http://127.0.0.1:{self.port}"

    def snapshot(self) -> int:
        with self._lock:
            return self.spans

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
