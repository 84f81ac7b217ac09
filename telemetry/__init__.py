"""agentwatch.telemetry: the library an agent imports for metrics, traces and logs.

One metric catalogue (:mod:`agentwatch.telemetry.catalogue`), metrics with trace exemplars,
OpenTelemetry tracing with OTLP/HTTP export, trace-correlated JSON logs, and a content-capture
policy that keeps conversation text out of telemetry unless the operator opts in.

Usage::

    from agentwatch.telemetry import Telemetry, TelemetrySettings, catalogue as c
    tel = Telemetry(TelemetrySettings.from_env(service_name="my-agent"))
    tel.instrument_app(app)
    with tel.span("state.fetch", metric=c.STATE_FETCH_DURATION):
        ...
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentwatch.telemetry import catalogue, genai
    from agentwatch.telemetry.core import Telemetry
    from agentwatch.telemetry.logs import JsonFormatter, configure_logging
    from agentwatch.telemetry.metrics import EXEMPLAR_TRACE_ID, Metrics, current_exemplar
    from agentwatch.telemetry.settings import TelemetrySettings

# Attributes are imported on first use (PEP 562), so ``import agentwatch.telemetry.catalogue`` (plain
# data, read by every generator) never pulls in the OpenTelemetry SDK or prometheus_client.
_LAZY = {
    "catalogue": "agentwatch.telemetry.catalogue",
    "genai": "agentwatch.telemetry.genai",
    "Telemetry": "agentwatch.telemetry.core",
    "JsonFormatter": "agentwatch.telemetry.logs",
    "configure_logging": "agentwatch.telemetry.logs",
    "EXEMPLAR_TRACE_ID": "agentwatch.telemetry.metrics",
    "Metrics": "agentwatch.telemetry.metrics",
    "current_exemplar": "agentwatch.telemetry.metrics",
    "TelemetrySettings": "agentwatch.telemetry.settings",
}

__all__ = [
    "EXEMPLAR_TRACE_ID",
    "JsonFormatter",
    "Metrics",
    "Telemetry",
    "TelemetrySettings",
    "catalogue",
    "configure_logging",
    "current_exemplar",
    "genai",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if module.__name__.endswith(f".{name}") else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
