"""Settings read from environment variables, on pydantic-settings, with errors that name the variable.

Every settings class of agentwatch (the telemetry library's, the reference agent's) derives from
``EnvSettings``: frozen, an empty variable counts as unset, and a bad value raises ``SettingsError``
as one line ``AGENT_MAX_BATCH must be an integer, got 'eight'`` instead of a pydantic dump.

Usage::

    class MySettings(EnvSettings):
        model_config = SettingsConfigDict(env_prefix="MY_")
        batch: PositiveInt = 8

    MySettings.from_env()                       # os.environ
    MySettings.from_env({"MY_BATCH": "16"})     # any mapping (tests)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Self

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = ["EnvSettings", "SettingsError", "env_name"]


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


#: The mapping ``from_env`` reads (``None``: ``os.environ``); a context variable, so concurrent
#: ``from_env`` calls with different mappings never see each other's.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("agentwatch_environ", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' own environment source, reading ``_ENVIRON`` when a mapping is given."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        if environ is None:
            return super()._load_env_vars()
        return {(k if self.case_sensitive else k.lower()): v for k, v in environ.items()
                if not (self.env_ignore_empty and v == "")}


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The environment variable a field is read from."""
    info: FieldInfo = cls.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, str):
        return alias
    if alias is not None and hasattr(alias, "choices"):
        return str(alias.choices[0])
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def _message(cls: type[BaseSettings], error: Any) -> str:
    field = next((str(p) for p in error["loc"] if isinstance(p, str) and p in cls.model_fields), None)
    if field is None:  # an alias in the location
        field = next((name for name in cls.model_fields for p in error["loc"] if env_name(cls, name) == p), "?")
    ctx = {k: (f"{v:g}" if isinstance(v, int | float) else v) for k, v in error.get("ctx", {}).items()}
    bounds = {type(m).__name__: getattr(m, type(m).__name__.lower(), None)
              for m in cls.model_fields[field].metadata} if field in cls.model_fields else {}
    if error["type"] in ("greater_than_equal", "less_than_equal") and {"Ge", "Le"} <= set(bounds):
        got = error.get("input")
        return f"{env_name(cls, field)} must be between {bounds['Ge']:g} and {bounds['Le']:g}, got {got!r}"
    text = {
        "int_parsing": "must be an integer",
        "int_from_float": "must be an integer",
        "float_parsing": "must be a number",
        "bool_parsing": "must be one of true/false/on/off/yes/no/1/0",
        "greater_than": f"must be greater than {ctx.get('gt')}",
        "greater_than_equal": f"must be {ctx.get('ge')} or more",
        "less_than_equal": f"must be {ctx.get('le')} or less",
    }.get(error["type"]) or str(error["msg"]).removeprefix("Value error, ").replace("Input should be", "must be")
    return f"{env_name(cls, field)} {text}, got {error.get('input')!r}"


class EnvSettings(BaseSettings):
    """Frozen settings from the environment; build with :meth:`from_env` (or directly in tests)."""

    model_config = SettingsConfigDict(frozen=True, env_ignore_empty=True, extra="ignore", case_sensitive=False,
                                      populate_by_name=True)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments win over the environment; no .env or secrets files (a deployment sets variables).
        return init_settings, _MappingEnvSource(settings_cls)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """Read every setting from ``environ`` (default ``os.environ``); ``overrides`` win.

        Raises ``SettingsError`` naming the first bad variable."""
        with _reading(environ):
            try:
                return cls(**overrides)
            except ValidationError as exc:
                raise SettingsError(_message(cls, exc.errors()[0])) from None


@contextmanager
def _reading(environ: Mapping[str, str] | None) -> Iterator[None]:
    token = _ENVIRON.set(dict(os.environ) if environ is None else environ)
    try:
        yield
    finally:
        _ENVIRON.reset(token)
