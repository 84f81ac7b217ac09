"""Telemetry settings, read once from the environment.

| variable | default | meaning |
|---|---|---|
| ``AGENTWATCH_TELEMETRY`` | ``on`` | ``off`` disables tracing and metric recording entirely |
| ``AGENTWATCH_CAPTURE_CONTENT`` | ``false`` | ``true`` lets conversation text into spans and logs |
| ``AGENTWATCH_STRICT_LABELS`` | ``false`` | ``true`` raises on a label value outside its closed set (tests) |
| ``OTEL_SERVICE_NAME`` | the caller's name | ``service.name`` resource attribute |
| ``OTEL_RESOURCE_ATTRIBUTES`` | | extra resource attributes (``k=v,k=v``) |
| ``DEPLOYMENT_ENVIRONMENT`` | ``dev`` | ``deployment.environment.name`` |
| ``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`` | unset | OTLP/HTTP export target; unset: no export |
| ``AGENTWATCH_TRACES_KEEP_RATIO`` | ``0.1`` | tail sampling: share of ordinary (fast, successful) traces kept |
| ``AGENTWATCH_TRACES_SLOW_SECONDS`` | ``1.0`` | tail sampling: slower traces are always kept (latency SLO) |
| ``OTEL_TRACES_SAMPLER(_ARG)`` | unset: tail sampling | set: the SDK's standard head sampler instead |
| ``OTEL_TRACES_EXPORTER`` | ``otlp`` | ``none`` disables export |
| ``AGENTWATCH_FASTAPI_INSTRUMENTATION`` | ``lean`` | ``contrib``: opentelemetry-instrumentation-fastapi spans |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, Self

from agentwatch import __version__

__all__ = ["TelemetrySettings", "env_flag"]

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


def _traces_url(env: Mapping[str, str]) -> str | None:
    """The OTLP/HTTP traces URL, as the exporter derives it: the signal's own variable verbatim,
    else the base endpoint with ``/v1/traces`` appended."""
    if own := env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip():
        return own
    if base := env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip():
        return base.rstrip("/") + "/v1/traces"
    return None


def _number(env: Mapping[str, str], name: str, default: float, *, upper: float | None = None,
            positive: bool = False) -> float:
    """A number from ``env`` within its range; anything else is an error naming the variable."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    expected = f"a number in [0, {upper:g}]" if upper is not None else "a number greater than 0"
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected {expected}") from None
    if value != value or value < 0 or (upper is not None and value > upper) or (positive and value <= 0):
        raise ValueError(f"{name}={raw!r}: expected {expected}")
    return value


@dataclass(frozen=True)
class TelemetrySettings:
    """What the telemetry library does; build with :meth:`from_env`."""

    service_name: str = "agentwatch-agent"
    service_version: str = __version__
    environment: str = "dev"
    enabled: bool = True
    capture_content: bool = False
    strict_labels: bool = False
    #: Tail sampling (the default): ordinary traces kept, and the "slow" cut-off in seconds.
    keep_ratio: float = 0.1
    slow_seconds: float = 1.0
    #: ``OTEL_TRACES_SAMPLER`` as set (the SDK's head sampler then decides); ``None``: tail sampling.
    head_sampler: str | None = None
    head_sampler_arg: str | None = None
    #: Full OTLP/HTTP traces URL (``…/v1/traces``); ``None``: no export.
    otlp_endpoint: str | None = None
    export_traces: bool = True
    fastapi_instrumentation: Literal["lean", "contrib"] = "lean"

    @classmethod
    def from_env(cls, service_name: str = "agentwatch-agent", env: Mapping[str, str] | None = None,
                 **overrides: object) -> Self:
        env = os.environ if env is None else env
        instrumentation = env.get("AGENTWATCH_FASTAPI_INSTRUMENTATION", "lean").strip().lower()
        if instrumentation not in ("lean", "contrib"):
            raise ValueError(f"AGENTWATCH_FASTAPI_INSTRUMENTATION={instrumentation!r}: expected lean or contrib")
        settings = cls(
            service_name=env.get("OTEL_SERVICE_NAME") or service_name,
            environment=env.get("DEPLOYMENT_ENVIRONMENT", "dev"),
            enabled=env_flag(env, "AGENTWATCH_TELEMETRY", True),
            capture_content=env_flag(env, "AGENTWATCH_CAPTURE_CONTENT", False),
            strict_labels=env_flag(env, "AGENTWATCH_STRICT_LABELS", False),
            keep_ratio=_number(env, "AGENTWATCH_TRACES_KEEP_RATIO", 0.1, upper=1.0),
            slow_seconds=_number(env, "AGENTWATCH_TRACES_SLOW_SECONDS", 1.0, positive=True),
            head_sampler=env.get("OTEL_TRACES_SAMPLER", "").strip() or None,
            head_sampler_arg=env.get("OTEL_TRACES_SAMPLER_ARG", "").strip() or None,
            otlp_endpoint=_traces_url(env),
            export_traces=env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() != "none",
            fastapi_instrumentation=instrumentation,  # type: ignore[arg-type]
        )
        return replace(settings, **overrides) if overrides else settings
