"""Telemetry settings, read once from the environment.

| variable | default | meaning |
|---|---|---|
| ``AGENTWATCH_TELEMETRY`` | ``on`` | ``off`` disables tracing and metric recording entirely |
| ``AGENTWATCH_CAPTURE_CONTENT`` | ``false`` | ``true`` lets conversation text into spans and logs |
| ``AGENTWATCH_STRICT_LABELS`` | ``false`` | ``true`` raises on a label value outside its closed set (tests) |
| ``OTEL_SERVICE_NAME`` | the caller's name | ``service.name`` resource attribute |
| ``AGENT_VERSION`` | ``OTEL_RESOURCE_ATTRIBUTES``' ``service.version``, else agentwatch's | the agent's version |
| ``OTEL_RESOURCE_ATTRIBUTES`` | | extra resource attributes (``k=v,k=v``) |
| ``DEPLOYMENT_ENVIRONMENT`` | ``dev`` | ``deployment.environment.name`` |
| ``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`` | unset | OTLP/HTTP export target; unset: no export |
| ``OTEL_TRACES_SAMPLER(_ARG)`` | parent-based ratio, ``1.0`` | standard sampler variables |
| ``OTEL_TRACES_EXPORTER`` | ``otlp`` | ``none`` disables export |
| ``AGENTWATCH_FASTAPI_INSTRUMENTATION`` | ``lean`` | ``contrib``: opentelemetry-instrumentation-fastapi spans |
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, Self

from agentwatch import __version__

__all__ = ["TelemetrySettings", "agent_version", "env_flag"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """Read a boolean variable; an unrecognised value is an error, not a silent default."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r}: expected one of true/false/on/off/1/0")


def _resource_attribute(env: Mapping[str, str], key: str) -> str | None:
    """One key of ``OTEL_RESOURCE_ATTRIBUTES`` (``k=v,k=v``, values percent-encoded). Parsed here
    because the SDK's detector would import the whole SDK into a settings read."""
    for item in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        name, sep, value = item.partition("=")
        if sep and name.strip() == key:
            return urllib.parse.unquote(value.strip()) or None
    return None


def agent_version(env: Mapping[str, str]) -> str:
    """``AGENT_VERSION``, else ``service.version`` of ``OTEL_RESOURCE_ATTRIBUTES``, else agentwatch's."""
    return (env.get("AGENT_VERSION", "").strip() or _resource_attribute(env, "service.version")
            or __version__)


@dataclass(frozen=True)
class TelemetrySettings:
    """What the telemetry library does; build with :meth:`from_env`."""

    service_name: str = "agentwatch-agent"
    service_version: str = __version__
    environment: str = "dev"
    enabled: bool = True
    capture_content: bool = False
    strict_labels: bool = False
    sample_ratio: float = 1.0
    otlp_endpoint: str | None = None
    export_traces: bool = True
    fastapi_instrumentation: Literal["lean", "contrib"] = "lean"

    @classmethod
    def from_env(cls, service_name: str = "agentwatch-agent", env: Mapping[str, str] | None = None,
                 **overrides: object) -> Self:
        env = os.environ if env is None else env
        ratio_raw = env.get("OTEL_TRACES_SAMPLER_ARG", "1.0")
        try:
            ratio = float(ratio_raw)
        except ValueError:
            raise ValueError(f"OTEL_TRACES_SAMPLER_ARG={ratio_raw!r}: expected a number in [0, 1]") from None
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"OTEL_TRACES_SAMPLER_ARG={ratio_raw!r}: expected a number in [0, 1]")
        instrumentation = env.get("AGENTWATCH_FASTAPI_INSTRUMENTATION", "lean").strip().lower()
        if instrumentation not in ("lean", "contrib"):
            raise ValueError(f"AGENTWATCH_FASTAPI_INSTRUMENTATION={instrumentation!r}: expected lean or contrib")
        settings = cls(
            service_name=env.get("OTEL_SERVICE_NAME") or service_name,
            service_version=agent_version(env),
            environment=env.get("DEPLOYMENT_ENVIRONMENT", "dev"),
            enabled=env_flag(env, "AGENTWATCH_TELEMETRY", True),
            capture_content=env_flag(env, "AGENTWATCH_CAPTURE_CONTENT", False),
            strict_labels=env_flag(env, "AGENTWATCH_STRICT_LABELS", False),
            sample_ratio=ratio,
            otlp_endpoint=(env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                           or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")),
            export_traces=env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() != "none",
            fastapi_instrumentation=instrumentation,  # type: ignore[arg-type]
        )
        return replace(settings, **overrides) if overrides else settings
