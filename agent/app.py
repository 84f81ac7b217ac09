"""The reference agent's HTTP API (FastAPI).

Usage::

    app = create_app()                      # settings from the environment
    uvicorn.run(app, host="0.0.0.0", port=8000)

Routes: ``POST /v1/conversations/{id}/messages``, ``GET /v1/conversations/{id}``,
``POST /v1/conversations/{id}/close``, the probes ``GET /healthz``, ``/startupz``, ``/readyz``
(:mod:`agentwatch.agent.probes`) and ``GET /metrics`` — the last four on ``AGENT_ADMIN_PORT``
instead when it is set. Every non-2xx response is ``{"error": {"class", "message"}}`` with a class
from the catalogue. The error edge and the request telemetry are the library's
(``install_error_handling``, ``Telemetry.instrument_app``).

Middleware, outermost first: the front door (body size and time limits, admission control:
:mod:`agentwatch.agent.admission`), server span and request metrics (telemetry), cancel on client
disconnect, the error boundary, the routes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentwatch import __version__
from agentwatch.agent.admission import AdmissionMiddleware, CancelOnDisconnectMiddleware
from agentwatch.agent.errors import ERROR_RESPONSES
from agentwatch.agent.model import IntentModel
from agentwatch.agent.probes import METRICS_PATH, OPS_PATHS, probe_router
from agentwatch.agent.service import AgentService
from agentwatch.agent.settings import AgentSettings
from agentwatch.telemetry import Telemetry, TelemetrySettings, install_error_handling
from agentwatch.telemetry.fastapi import NATIVE_TELEMETRY_OFF

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

    # No slash redirects: a redirect is built from the request's Host header (an open redirect for a
    # forged Host), and a machine API has no use for them; '/x/' is simply not a route (404).
    # The agent's telemetry is agentwatch's, on or off: FastAPI's own never (see telemetry.fastapi).
    app = FastAPI(title="agentwatch reference agent", version=__version__, lifespan=lifespan,
                  redoc_url=None, redirect_slashes=False, telemetry=NATIVE_TELEMETRY_OFF)
    app.state.service = service
    app.state.telemetry = tel

    @app.post("/v1/conversations/{conversation_id}/messages", response_model=MessageOut,
              responses=ERROR_RESPONSES)
    async def post_message(conversation_id: ConversationId, body: MessageIn) -> dict[str, Any]:
        """Send a user message; get the agent's reply, the intent and whether a human took over."""
        return await service.message(conversation_id, body.text)

    @app.get("/v1/conversations/{conversation_id}", response_model=ConversationOut, responses=ERROR_RESPONSES)
    async def get_conversation(conversation_id: ConversationId) -> dict[str, Any]:
        """The conversation's status and its kept turns (oldest first)."""
        return await service.conversation(conversation_id)

    @app.post("/v1/conversations/{conversation_id}/close", response_model=CloseOut, responses=ERROR_RESPONSES)
    async def close_conversation(conversation_id: ConversationId, body: CloseIn) -> dict[str, Any]:
        """End the conversation; an escalated conversation ends with outcome ``escalated``."""
        return await service.close(conversation_id, body.outcome)

    if not settings.admin_port:
        app.include_router(probe_router(service))
    # The body limit is the front door's (it also bounds the body's time), so none here.
    install_error_handling(app, tel, max_body_bytes=None)
    app.add_middleware(CancelOnDisconnectMiddleware)
    tel.instrument_app(app, excluded_paths=OPS_PATHS, metrics_path=METRICS_PATH)
    app.add_middleware(AdmissionMiddleware, tel=tel, limit=service.admission_limit,  # outermost: added last
                       max_bytes=settings.max_body_bytes, body_timeout_s=settings.body_timeout_ms / 1000,
                       retry_after=service.batcher.retry_after_s, routes=app.router.routes)
    if settings.admin_port:  # the telemetry library always serves /metrics; here the admin port does
        app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != METRICS_PATH]
    return app
