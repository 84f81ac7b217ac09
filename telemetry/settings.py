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
| ``AGENTWATCH_TRACES_KEEP_RATIO`` | ``0.1`` | tail sampling: share of ordinary (fast, successful) traces kept |
| ``AGENTWATCH_TRACES_SLOW_SECONDS`` | ``1.0`` | tail sampling: slower traces are always kept (latency SLO) |
| ``OTEL_TRACES_SAMPLER(_ARG)`` | unset: tail sampling | set: the SDK's standard head sampler instead |
| ``OTEL_TRACES_EXPORTER`` | ``otlp`` | ``none`` disables export |
| ``AGENTWATCH_FASTAPI_INSTRUMENTATION`` | ``lean`` | ``contrib``: opentelemetry-instrumentation-fastapi spans |
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import AliasChoices, BeforeValidator, Field

from agentwatch import __version__
from agentwatch.telemetry.envsettings import EnvSettings, SettingsError

__all__ = ["SettingsError", "TelemetrySettings", "agent_version"]


def _env(*names: str) -> Any:
    # The first variable set wins; the field's own name works for keyword construction.
    return AliasChoices(*names)


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


def _traces_exported(value: Any) -> Any:
    return value.strip().lower() != "none" if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class TelemetrySettings(EnvSettings):
    """What the telemetry library does; build with :meth:`from_env`."""

    service_name: str = Field("agentwatch-agent", validation_alias=_env("OTEL_SERVICE_NAME", "service_name"))
    #: The agent's version (``service.version``, ``agent_build_info{version}``); see :func:`agent_version`.
    service_version: str = __version__
    environment: str = Field("dev", validation_alias=_env("DEPLOYMENT_ENVIRONMENT", "environment"))
    enabled: bool = Field(True, validation_alias=_env("AGENTWATCH_TELEMETRY", "enabled"))
    capture_content: bool = Field(False, validation_alias=_env("AGENTWATCH_CAPTURE_CONTENT", "capture_content"))
    strict_labels: bool = Field(False, validation_alias=_env("AGENTWATCH_STRICT_LABELS", "strict_labels"))
    #: Tail sampling (the default): share of ordinary traces kept, and the "slow" cut-off in seconds.
    keep_ratio: float = Field(0.1, ge=0, le=1, validation_alias=_env("AGENTWATCH_TRACES_KEEP_RATIO", "keep_ratio"))
    slow_seconds: float = Field(1.0, gt=0, validation_alias=_env("AGENTWATCH_TRACES_SLOW_SECONDS", "slow_seconds"))
    #: ``OTEL_TRACES_SAMPLER`` as set (the SDK's head sampler then decides); ``None``: tail sampling.
    head_sampler: Annotated[str | None, BeforeValidator(_blank_is_none)] = Field(
        None, validation_alias=_env("OTEL_TRACES_SAMPLER", "head_sampler"))
    head_sampler_arg: Annotated[str | None, BeforeValidator(_blank_is_none)] = Field(
        None, validation_alias=_env("OTEL_TRACES_SAMPLER_ARG", "head_sampler_arg"))
    #: The traces endpoint variable, verbatim (the exporter posts to it as is) ...
    otlp_traces_endpoint: str | None = Field(None, validation_alias=_env(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "otlp_traces_endpoint"))
    #: ... else the base endpoint, to which ``/v1/traces`` is appended.
    otlp_endpoint: str | None = Field(None, validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT", "otlp_endpoint"))
    export_traces: Annotated[bool, BeforeValidator(_traces_exported)] = Field(
        True, validation_alias=_env("OTEL_TRACES_EXPORTER", "export_traces"))
    fastapi_instrumentation: Annotated[Literal["lean", "contrib"], BeforeValidator(_lower)] = Field(
        "lean", validation_alias=_env("AGENTWATCH_FASTAPI_INSTRUMENTATION", "fastapi_instrumentation"))

    @classmethod
    def from_env(cls, service_name: str = "agentwatch-agent", env: Mapping[str, str] | None = None,
                 **overrides: Any) -> Self:
        """Read the ``AGENTWATCH_*``/``OTEL_*`` variables of ``env`` (default ``os.environ``);
        ``service_name`` is the name used when ``OTEL_SERVICE_NAME`` is unset."""
        source = os.environ if env is None else env
        if not source.get("OTEL_SERVICE_NAME"):
            overrides.setdefault("service_name", service_name)
        overrides.setdefault("service_version", agent_version(source))
        return super().from_env(source, **overrides)

    @property
    def traces_url(self) -> str | None:
        """The OTLP/HTTP traces URL, as the exporter derives it from the two variables; ``None``: no export."""
        if self.otlp_traces_endpoint:
            return self.otlp_traces_endpoint
        if self.otlp_endpoint:
            return self.otlp_endpoint.rstrip("/") + "/v1/traces"
        return None
