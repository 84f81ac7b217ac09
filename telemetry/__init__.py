"""agentwatch.telemetry: the library an agent imports for metrics, traces and logs.

One metric catalogue (:mod:`agentwatch.telemetry.catalogue`), metrics with trace exemplars,
OpenTelemetry tracing with OTLP/HTTP export, trace-correlated JSON logs, a content-capture policy
that keeps conversation text out of telemetry unless the operator opts in, and the pieces an agent
reuses: declared closed label sets (:class:`ClosedSets`), error classes at the HTTP edge
(:class:`AppError`, :func:`install_error_handling`), a bounded batching queue (:class:`Batcher`) and
readiness tied to model loading (:class:`Readiness`).

Usage::

    from agentwatch.telemetry import Telemetry, TelemetrySettings, catalogue as c
    tel = Telemetry(TelemetrySettings.from_env(service_name="my-agent"))
    tel.declare(ClosedSets(intents=("search",), error_classes={"tool_failed": 502}))
    install_error_handling(app, tel)
    tel.instrument_app(app)
    with tel.span("state.fetch", metric=c.STATE_FETCH_DURATION):
        ...
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentwatch.telemetry import catalogue, genai
    from agentwatch.telemetry.batching import Batcher
    from agentwatch.telemetry.closed_sets import ClosedSets
    from agentwatch.telemetry.core import Telemetry
    from agentwatch.telemetry.errors import AppError, install_error_handling
    from agentwatch.telemetry.logs import JsonFormatter, configure_logging
    from agentwatch.telemetry.metrics import EXEMPLAR_TRACE_ID, Metrics, current_exemplar
    from agentwatch.telemetry.readiness import Readiness
    from agentwatch.telemetry.settings import TelemetrySettings

# Attributes are imported on first use (PEP 562), so ``import agentwatch.telemetry.catalogue`` (plain
# data, read by every generator) never pulls in the OpenTelemetry SDK or prometheus_client.
_LAZY = {
    "catalogue": "agentwatch.telemetry.catalogue",
    "genai": "agentwatch.telemetry.genai",
    "Telemetry": "agentwatch.telemetry.core",
    "AppError": "agentwatch.telemetry.errors",
    "Batcher": "agentwatch.telemetry.batching",
    "ClosedSets": "agentwatch.telemetry.closed_sets",
    "Readiness": "agentwatch.telemetry.readiness",
    "install_error_handling": "agentwatch.telemetry.errors",
    "JsonFormatter": "agentwatch.telemetry.logs",
    "configure_logging": "agentwatch.telemetry.logs",
    "EXEMPLAR_TRACE_ID": "agentwatch.telemetry.metrics",
    "Metrics": "agentwatch.telemetry.metrics",
    "current_exemplar": "agentwatch.telemetry.metrics",
    "TelemetrySettings": "agentwatch.telemetry.settings",
}

__all__ = [
    "EXEMPLAR_TRACE_ID",
    "AppError",
    "Batcher",
    "ClosedSets",
    "JsonFormatter",
    "Metrics",
    "Readiness",
    "Telemetry",
    "TelemetrySettings",
    "catalogue",
    "configure_logging",
    "current_exemplar",
    "genai",
    "install_error_handling",
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
