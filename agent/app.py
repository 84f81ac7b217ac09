"""The reference agent's HTTP API (FastAPI).

Usage::

    app = create_app()                      # settings from the environment
    uvicorn.run(app, host="0.0.0.0", port=8000)

Routes: ``POST /v1/conversations/{id}/messages``, ``GET /v1/conversations/{id}``,
``POST /v1/conversations/{id}/close``, ``GET /healthz``, ``GET /readyz``, ``GET /metrics``.
Every non-2xx response is ``{"error": {"class", "message"}}`` with a class from the catalogue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from agentwatch import __version__
from agentwatch.agent.errors import UNKNOWN_ROUTE_CLASS, AgentError
from agentwatch.agent.middleware import BodyLimitMiddleware, ErrorBoundaryMiddleware, error_response
from agentwatch.agent.model import IntentModel
from agentwatch.agent.service import AgentService
from agentwatch.agent.settings import AgentSettings
from agentwatch.telemetry import Telemetry, TelemetrySettings
from agentwatch.telemetry import catalogue as c

__all__ = ["CONVERSATION_ID_PATTERN", "MAX_TEXT_CHARS", "create_app"]

CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_TEXT_CHARS = 4000

ConversationId = Annotated[str, Path(pattern=CONVERSATION_ID_PATTERN,
                                     description="1-64 characters: letters, digits, '_' and '-'")]


class MessageIn(BaseModel):
    model_config = ConfigDict(strict=True)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain more than whitespace")
        return value


class CloseIn(BaseModel):
    model_config = ConfigDict(strict=True)
    outcome: Literal["resolved", "abandoned"]


class MessageOut(BaseModel):
    conversation_id: str
    turn: int
    reply: str
    intent: str
    confidence: float
    escalated: bool


class TurnOut(BaseModel):
    turn: int | None = None
    role: Literal["user", "agent"]
    text: str
    ts: str


class ConversationOut(BaseModel):
    conversation_id: str
    status: str
    outcome: str | None = None
    turns: list[TurnOut]


class CloseOut(BaseModel):
    conversation_id: str
    status: str
    outcome: str
    user_turns: int


def _validation_message(request: Request, exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
        where = ".".join(loc[1:]) if len(loc) > 1 else (loc[0] if loc else "request")
        if err.get("type") == "json_invalid":
            parts.append("body: invalid JSON")
        elif loc[:1] == ["body"] and err.get("type") in ("model_attributes_type", "dict_type"):
            content_type = request.headers.get("content-type", "")
            parts.append("body: must be a JSON object" if "json" in content_type
                         else "body: must be JSON sent with Content-Type: application/json")
        else:
            parts.append(f"{where}: {err.get('msg', 'invalid')}")  # pydantic messages never echo input
    return "; ".join(parts) or "invalid request"


def _install_error_handlers(app: FastAPI, tel: Telemetry) -> None:
    @app.exception_handler(AgentError)
    async def _agent_error(request: Request, exc: AgentError) -> Response:
        return error_response(tel, exc.error_class, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_response(tel, "bad_request", _validation_message(request, exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(tel, UNKNOWN_ROUTE_CLASS, "no such route")
        if exc.status_code == 405:
            return error_response(tel, "method_not_allowed", f"method {request.method} is not allowed here",
                                  exc.headers)
        by_status = [k for k, v in c.ERROR_CLASS_STATUS.items() if v == exc.status_code]
        fallback = "bad_request" if exc.status_code < 500 else "internal"
        return error_response(tel, by_status[0] if by_status else fallback, str(exc.detail), exc.headers)


def create_app(settings: AgentSettings | None = None, telemetry: Telemetry | None = None, *,
               model: IntentModel | None = None) -> FastAPI:
    """Build the agent app. ``model``: an already loaded :class:`IntentModel` (tests share one).

    Model load, warm-up and Redis connections happen in the app's lifespan; /readyz says when done.
    """
    settings = settings or AgentSettings.from_env()
    owns_telemetry = telemetry is None
    tel = telemetry or Telemetry(TelemetrySettings.from_env(service_name="agentwatch-agent"))
    service = AgentService(settings, tel, model=model)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()
            if owns_telemetry:
                tel.shutdown()

    app = FastAPI(title="agentwatch reference agent", version=__version__, lifespan=lifespan,
                  redoc_url=None)
    app.state.service = service
    app.state.telemetry = tel

    @app.post("/v1/conversations/{conversation_id}/messages", response_model=MessageOut)
    async def post_message(conversation_id: ConversationId, body: MessageIn) -> dict[str, Any]:
        """Send a user message; get the agent's reply, the intent and whether a human took over."""
        return await service.message(conversation_id, body.text)

    @app.get("/v1/conversations/{conversation_id}", response_model=ConversationOut)
    async def get_conversation(conversation_id: ConversationId) -> dict[str, Any]:
        """The conversation's status and its kept turns (oldest first)."""
        return await service.conversation(conversation_id)

    @app.post("/v1/conversations/{conversation_id}/close", response_model=CloseOut)
    async def close_conversation(conversation_id: ConversationId, body: CloseIn) -> dict[str, Any]:
        """End the conversation; an escalated conversation ends with outcome ``escalated``."""
        return await service.close(conversation_id, body.outcome)

    @app.get("/healthz")
    async def healthz() -> Response:
        """Alive (a failed model load makes the process unhealthy, so it gets restarted)."""
        if service.load_error:
            return error_response(tel, "model_not_loaded", service.load_error, count=False)
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        """200 once the model answered its warm-up call and Redis answers; else 503 with the reason."""
        error_class, reason = await service.readiness()
        if error_class is not None:
            return error_response(tel, error_class, reason, count=False)  # a probe answer, not a failed request
        return JSONResponse({"status": "ready"})

    _install_error_handlers(app, tel)
    app.add_middleware(ErrorBoundaryMiddleware, tel=tel)
    app.add_middleware(BodyLimitMiddleware, tel=tel, max_bytes=settings.max_body_bytes)
    tel.instrument_app(app)
    return app
