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

from agentwatch.telemetry import catalogue, genai
from agentwatch.telemetry.core import Telemetry
from agentwatch.telemetry.logs import JsonFormatter, configure_logging
from agentwatch.telemetry.metrics import EXEMPLAR_TRACE_ID, Metrics, current_exemplar
from agentwatch.telemetry.settings import TelemetrySettings

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
