"""The reference agent's HTTP API (FastAPI).

Usage::

    app = create_app()                      # settings from the environment
    uvicorn.run(app, host="0.0.0.0", port=8000)

Routes: ``POST /v1/conversations/{id}/messages``, ``GET /v1/conversations/{id}``,
``POST /v1/conversations/{id}/close``, ``GET /healthz``, ``GET /readyz``, ``GET /metrics``.
Every non-2xx response is ``{"error": {"class", "message"}}`` with a class from the catalogue.
The probes, the error edge and the request telemetry are the library's (``agentwatch.telemetry``:
``Readiness.install``, ``install_error_handling``, ``Telemetry.instrument_app``), as in any agent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentwatch import __version__
from agentwatch.agent.model import IntentModel
from agentwatch.agent.service import AgentService
from agentwatch.agent.settings import AgentSettings
from agentwatch.telemetry import Telemetry, TelemetrySettings, install_error_handling

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

    service.readiness.install(app)  # /healthz, /readyz: model loaded and warm, Redis answering
    install_error_handling(app, tel, max_body_bytes=settings.max_body_bytes)
    tel.instrument_app(app)
    return app
