"""OTLP JSON lines: the format the OpenTelemetry Collector's ``file`` exporter writes.

One line per export request: ``{"resourceSpans": [...]}`` with the protobuf field names in
lowerCamelCase, enums as integers, 64-bit integers as strings and — unlike protobuf's own JSON
mapping — trace and span ids as lowercase hex (the OTLP/JSON rules of the OTLP specification).
``google.protobuf.json_format`` does all of it except the ids, which :func:`request_to_json`
rewrites; no maintained Python package writes OTLP JSON.

Usage::

    line = json.dumps(request_to_json(export_request))       # what the receiver appends
    spans = read_spans("demo-output/spans.jsonl")             # flat Span records, every line
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["STATUS_ERROR", "Span", "parse_line", "read_spans", "request_to_json"]

#: ``Status.code`` values (``STATUS_CODE_ERROR`` = 2).
STATUS_ERROR = 2
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _hex(value: str) -> str:
    return base64.b64decode(value).hex() if value else ""


def request_to_json(request: Any) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest`` as an OTLP JSON object (ids in hex, enums as integers)."""
    from google.protobuf import json_format

    data = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource_spans in data.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in _ID_FIELDS:
                    if key in span:
                        span[key] = _hex(span[key])
                for link in span.get("links", []):
                    for key in ("traceId", "spanId"):
                        if key in link:
                            link[key] = _hex(link[key])
    return data


def _any_value(value: dict[str, Any]) -> object:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [_any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return {kv["key"]: _any_value(kv.get("value", {})) for kv in value["kvlistValue"].get("values", [])}
    return None


def _attributes(items: Iterable[dict[str, Any]]) -> dict[str, object]:
    return {kv["key"]: _any_value(kv.get("value", {})) for kv in items}


@dataclass(frozen=True)
class Span:
    """One span, flattened: ids in hex, times in nanoseconds since the epoch."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status: int
    attributes: dict[str, object] = field(default_factory=dict)
    resource: dict[str, object] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def failed(self) -> bool:
        return self.status == STATUS_ERROR


def parse_line(data: dict[str, Any]) -> Iterator[Span]:
    """The spans of one OTLP JSON object (hex ids; base64 ids of protobuf's JSON mapping are accepted)."""
    for resource_spans in data.get("resourceSpans", []):
        resource = _attributes(resource_spans.get("resource", {}).get("attributes", []))
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                ids = {key: _normal_id(span.get(key, "")) for key in _ID_FIELDS}
                yield Span(ids["traceId"], ids["spanId"], ids["parentSpanId"], span.get("name", ""),
                           int(span.get("kind", 0)), int(span.get("startTimeUnixNano", 0)),
                           int(span.get("endTimeUnixNano", 0)), int(span.get("status", {}).get("code", 0)),
                           _attributes(span.get("attributes", [])), resource)


def _normal_id(value: str) -> str:
    try:
        int(value, 16)
        return value.lower()
    except ValueError:
        return _hex(value)


def read_spans(path: str | Path) -> list[Span]:
    """Every span of an OTLP JSON lines file (blank lines skipped; a bad line names its number)."""
    spans: list[Span] = []
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                spans.extend(parse_line(json.loads(line)))
            except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{number}: not an OTLP JSON line ({exc})") from None
    return spans
