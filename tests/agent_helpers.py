"""Helpers for the agent tests: one model load per session, an in-process agent with its lifespan."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from agentwatch.agent.app import create_app
from agentwatch.agent.model import IntentModel
from agentwatch.agent.settings import AgentSettings
from agentwatch.telemetry import Telemetry, TelemetrySettings
from agentwatch.telemetry.catalogue import MetricDef

T = TypeVar("T")


@functools.cache
def shared_model() -> IntentModel:
    """The real all-MiniLM-L6-v2, loaded once per test session (a few seconds)."""
    settings = AgentSettings()
    return IntentModel.load(settings.model_path, name=settings.model_name, threads=settings.torch_threads)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@dataclass
class Agent:
    """An in-process agent: HTTP client, app, its own registry and span exporter."""

    client: httpx.AsyncClient
    app: Any
    tel: Telemetry
    spans: InMemorySpanExporter

    def value(self, metric: MetricDef | str, **labels: str) -> float:
        """A sample from this agent's registry (0.0 when the series does not exist)."""
        name = metric.name if isinstance(metric, MetricDef) else metric
        return self.tel.registry.get_sample_value(name, labels) or 0.0

    def finished_spans(self) -> list[Any]:
        self.tel.tracer_provider.force_flush()
        return list(self.spans.get_finished_spans())

    async def say(self, conversation_id: str, text: str) -> httpx.Response:
        return await self.client.post(f"/v1/conversations/{conversation_id}/messages", json={"text": text})


@asynccontextmanager
async def running_agent(redis_url: str, *, model: IntentModel | str | None = "shared", wait_ready: bool = True,
                        capture_content: bool = False, **overrides: Any) -> AsyncIterator[Agent]:
    """Start the app's lifespan (model warm-up, Redis) and yield an :class:`Agent` bound to it.

    ``model``: ``"shared"`` (the session's model), a loaded model, or ``None`` to let the app
    load ``model_path`` itself.
    """
    # A generous deadline unless a test is about deadlines: a loaded CI machine must not cause 504s.
    settings = AgentSettings(redis_url=redis_url, **{"request_timeout_ms": 30_000, **overrides})
    spans = InMemorySpanExporter()
    # Every trace kept (tail sampling at ratio 1), so tests can inspect any request's spans.
    tel = Telemetry(TelemetrySettings(strict_labels=True, capture_content=capture_content,
                                      export_traces=False, keep_ratio=1.0),
                    registry=CollectorRegistry(), span_exporters=[spans])
    app = create_app(settings, tel, model=shared_model() if model == "shared" else model)
    async with app.router.lifespan_context(app):
        if wait_ready:
            await app.state.service.wait_ready()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
            yield Agent(client, app, tel, spans)
    tel.shutdown()
