"""The reference agent's error type: the library's :class:`~agentwatch.telemetry.errors.AppError`,
restricted to the reference agent's closed error classes (``catalogue.ERROR_CLASS_STATUS``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry.errors import AppError, error_body

__all__ = ["ERROR_RESPONSES", "UNKNOWN_ROUTE_CLASS", "AgentError", "ErrorOut", "error_body"]

#: Error class for a path no route serves (the library's own 404 class).
UNKNOWN_ROUTE_CLASS = "route_not_found"


class AgentError(AppError):
    """A failure with a class from the reference agent's taxonomy (``c.ERROR_CLASSES``).

    ``status`` comes from ``c.ERROR_CLASS_STATUS``; ``error_class`` is also what the telemetry
    library writes as a failed span's ``error.type``. ``message`` is shown to the client, so it
    never holds conversation text. A class outside the taxonomy is a programming error, caught here.
    """

    def __init__(self, error_class: str, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        if error_class not in c.ERROR_CLASS_STATUS:
            raise ValueError(f"unknown error class {error_class!r}; it must be one of {c.ERROR_CLASSES}")
        super().__init__(error_class, message, headers=headers)
        self.status = c.ERROR_CLASS_STATUS[error_class]


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
