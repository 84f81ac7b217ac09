"""The agent's one error type and the JSON error body every non-2xx response carries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentwatch.telemetry import catalogue as c

__all__ = ["ERROR_RESPONSES", "UNKNOWN_ROUTE_CLASS", "AgentError", "ErrorOut", "error_body"]

#: Error class for a path no route serves. The catalogue has no generic "not found" class, so an
#: unknown route answers 404 with the only 404 class; a dedicated one is used once it exists.
UNKNOWN_ROUTE_CLASS = "route_not_found"


class AgentError(Exception):
    """A failure with a class from the closed error taxonomy (``c.ERROR_CLASSES``).

    ``status`` comes from ``c.ERROR_CLASS_STATUS``; ``error_class`` is also what the telemetry
    library writes as a failed span's ``error.type``. ``message`` is shown to the client, so it
    never holds conversation text.
    """

    def __init__(self, error_class: str, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        if error_class not in c.ERROR_CLASS_STATUS:
            raise ValueError(f"unknown error class {error_class!r}; it must be one of {c.ERROR_CLASSES}")
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.status = c.ERROR_CLASS_STATUS[error_class]
        self.headers = dict(headers or {})


def error_body(error_class: str, message: str) -> dict[str, dict[str, str]]:
    """``{"error": {"class": ..., "message": ...}}``."""
    return {"error": {"class": error_class, "message": message}}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    error_class: Literal[c.ERROR_CLASSES] = Field(alias="class",  # type: ignore[valid-type]
                                                  description="Closed error class; its HTTP status is fixed")
    message: str = Field(description="What went wrong; never holds conversation text")


class ErrorOut(BaseModel):
    """The body of every non-2xx answer (probes add ``checks``)."""

    error: ErrorDetail
    checks: dict[str, str] | None = Field(None, description="Probes only: model, state_store, draining")


#: OpenAPI ``responses`` for a route: every 4xx and 5xx carries :class:`ErrorOut` (and FastAPI's
#: 422, which this API never sends, is not documented).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorOut, "description": "Client error: " + ", ".join(
        f"{k} {v}" for k, v in c.ERROR_CLASS_STATUS.items() if v < 500)},
    "5XX": {"model": ErrorOut, "description": "Server or dependency error: " + ", ".join(
        f"{k} {v}" for k, v in c.ERROR_CLASS_STATUS.items() if v >= 500)},
}
