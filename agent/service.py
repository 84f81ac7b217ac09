"""The agent's work, transport-free: start-up, readiness, and the three conversation operations.

One message is three child spans of the request's server span: ``state.fetch`` → ``inference``
(its time in the queue an attribute, ``agentwatch.queue.wait_seconds``, and the queue-wait
histogram) → ``state.save``; a nested generative ``inference`` when a generator is configured.
The reply itself is pure Python taking microseconds: its facts (escalation reason, follow-up
topic) go on the server span rather than into a span of their own. KPIs (conversations,
escalations, outcomes, intents) are counted here, once, from what the atomic Redis scripts report.

The generic parts are the telemetry library's, as any agent would use them: the inference queue
is :class:`agentwatch.telemetry.Batcher`, readiness and the model-load gauges
:class:`agentwatch.telemetry.Readiness`, the closed sets ``Telemetry.declare``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from agentwatch.agent.dialogue import Decision, Policy, build_prompt, respond
from agentwatch.agent.errors import AgentError
from agentwatch.agent.faults import FaultInjector
from agentwatch.agent.idle import Ended, IdleSweeper
from agentwatch.agent.model import IntentModel
from agentwatch.agent.settings import AgentSettings
from agentwatch.agent.startup import init_generator_metrics
from agentwatch.agent.state import ConversationStore, Snapshot
from agentwatch.telemetry import Batcher, ClosedSets, Readiness, Telemetry, genai
from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry.batching import expired_error

__all__ = ["AgentService"]

log = logging.getLogger("agentwatch.agent")

# Span attributes of our own (not GenAI semconv): ids and bounded values only, never text.
CONVERSATION_ID = genai.CONVERSATION_ID
TURN = "agentwatch.conversation.turn"
INTENT = "agentwatch.intent"
CONFIDENCE = "agentwatch.intent.confidence"
ESCALATION = "agentwatch.escalation.reason"
FOLLOWUP = "agentwatch.reply.followup_topic"
CONTENT_INPUT = "agentwatch.content.input"
CONTENT_OUTPUT = "agentwatch.content.output"


#: What one classification answers per message: ((intent, confidence), input tokens).
Classified = tuple[tuple[str, float], int]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AgentService:
    """Holds the store, the model behind its batcher and the optional generator."""

    def __init__(self, settings: AgentSettings, telemetry: Telemetry, *,
                 model: IntentModel | None = None) -> None:
        self.settings, self.tel, self.metrics = settings, telemetry, telemetry.metrics
        self.policy = Policy(settings.low_confidence, settings.low_confidence_turns,
                             settings.complaint_limit, settings.max_turns)
        self.faults = FaultInjector(error_ratio=settings.fault_error_ratio,
                                    latency_ms=settings.fault_latency_ms,
                                    latency_ratio=settings.fault_latency_ratio)
        self.store = ConversationStore(settings.redis_node_url, window=settings.history_window,
                                       cap=settings.history_max, ttl_seconds=settings.conversation_ttl_seconds,
                                       timeout_s=settings.redis_timeout_ms / 1000, cluster=settings.redis_cluster,
                                       pool_size=settings.max_inflight,
                                       pool_timeout_s=settings.redis_pool_timeout_ms / 1000,
                                       track_activity=settings.idle_timeout_seconds > 0,
                                       version=telemetry.settings.service_version)
        self.sweeper: IdleSweeper | None = None
        if settings.idle_timeout_seconds > 0:  # every instance sweeps; the Redis claim counts each once
            self.sweeper = IdleSweeper(self.store, timeout_s=settings.idle_timeout_seconds,
                                       interval_s=settings.sweep_interval_seconds, on_end=self._ended)
        self.model: IntentModel | None = model
        self.generator: Any = None
        self._gen_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")
        self._load_task: asyncio.Task[None] | None = None
        telemetry.declare(ClosedSets.reference())  # every closed-set series starts at 0
        init_generator_metrics(self.metrics, settings)
        telemetry.set_build_info(model=settings.model_name, model_revision=settings.model_revision)
        self.readiness = Readiness(telemetry)
        self.readiness.expect(settings.model_name, *([settings.generator_name] if settings.generator_model else []))
        if settings.readiness_requires_state_store:  # off by default: README "Probes and readiness"
            self.readiness.add_check("state store", self._store_answers, error_class="state_store_unavailable",
                                     reason="state store (Redis) is not answering")
        #: Set by SIGTERM (``agentwatch.agent.server``): /readyz fails, requests are still served.
        self.draining = False
        self.ready_event = self.readiness.ready_event
        self.batcher: Batcher[str, Classified] = Batcher(
            self._classify_batch, telemetry=telemetry, model=settings.model_name, operation="classify",
            max_batch=settings.max_batch, max_wait_s=settings.max_wait_ms / 1000, capacity=settings.queue_capacity)

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start loading in the background: /healthz answers at once, /readyz once warm."""
        await self.batcher.start()
        self._load_task = asyncio.get_running_loop().create_task(self._load(), name="model-load")
        if self.sweeper is not None:
            self.sweeper.start()

    @property
    def model_ready(self) -> bool:
        return self.readiness.is_started

    @property
    def load_error(self) -> str | None:
        return self.readiness.failure

    async def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until the model is warm (tests, benchmarks); raise if loading failed."""
        await self.readiness.wait(timeout)

    async def _load(self) -> None:
        s = self.settings
        try:
            async with self.readiness.loading(s.model_name):  # timed; a handed-in model: the warm-up only
                if self.model is None:
                    self.model = await asyncio.to_thread(IntentModel.load, s.model_path, name=s.model_name,
                                                         threads=s.torch_threads)
                with self.tel.span("inference", attributes=genai.inference_attributes(
                        "warmup", s.model_name, batch_size=1)):
                    await self.batcher.run_once(["hello, where is my order?"], "warmup")
            if s.generator_model:
                async with self.readiness.loading(s.generator_name):
                    await self._load_generator()
        except Exception:
            log.exception("model failed to load", extra={"model": s.model_name})
            return
        cold = self.readiness.started()
        log.info("model ready", extra={"model": s.model_name, "cold_start_seconds": round(cold, 3)})

    async def _load_generator(self) -> None:
        from agentwatch.agent.generator import Generator

        s = self.settings
        loop = asyncio.get_running_loop()
        self.generator = await loop.run_in_executor(
            self._gen_executor, lambda: Generator.load(s.generator_model, name=s.generator_name,
                                                       threads=s.torch_threads))
        await loop.run_in_executor(self._gen_executor, self.generator.generate, "Hello", 1)

    async def stop(self) -> None:
        """Answer what is still queued (bounded by the shutdown timeout), then release everything."""
        self.draining = True
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        if self.sweeper is not None:
            await self.sweeper.stop()
        await self.batcher.stop(drain_s=self.settings.shutdown_timeout_seconds)
        self._gen_executor.shutdown(wait=False, cancel_futures=True)
        await self.store.aclose()

    # --- admission, drain and probes ----------------------------------------------------------

    def admission_limit(self) -> int:
        """API requests to admit at once: ``AGENT_MAX_INFLIGHT``, lowered while the model is slow so
        that a full house still gets answered within half the request deadline (the other half is
        left for Redis and variance). An admitted request should be answered, not time out."""
        s = self.settings
        batch_s = self.batcher.batch_seconds
        if not batch_s:
            return s.max_inflight
        budget_s = s.request_timeout_ms / 1000 / 2
        return max(s.max_batch, min(s.max_inflight, int(s.max_batch * budget_s / batch_s)))

    def drain(self) -> None:
        """Start draining: readiness fails from now on; requests keep being served."""
        if not self.draining:
            self.draining = True
            self.metrics.set(c.READY, 0)
            log.info("draining: readiness fails, in-flight and new requests are still served")

    def startup(self) -> tuple[str | None, str]:
        """The startup probe: ``(None, "started")`` once the model answered its warm-up."""
        if self.load_error:
            return "model_not_loaded", self.load_error
        if not self.model_ready:
            return "model_not_loaded", "model is loading or warming up"
        return None, "started"

    async def _store_answers(self) -> bool:
        # Bounded well inside a probe's timeout: a Redis that hangs (not refuses) must not turn into
        # a probe timeout, which would fail readiness after all.
        return await self.store.ping(timeout_s=min(0.5, self.settings.redis_timeout_ms / 1000))

    async def probe_readiness(self) -> tuple[str | None, str, dict[str, str]]:
        """``(error_class or None, reason, checks)`` for /readyz; also sets the ready gauge.

        Ready = model warm and not draining (and, with ``AGENT_READINESS_REQUIRES_STATE_STORE``,
        Redis answering). The state store's health is always reported in ``checks``.
        """
        store_ok = await self._store_answers()
        checks = {"model": "ok" if self.model_ready else ("failed" if self.load_error else "loading"),
                  "state_store": "ok" if store_ok else "unavailable",
                  "draining": "yes" if self.draining else "no"}
        error_class, reason = await self.readiness.check()  # start-up, and Redis when it gates
        if error_class is None and self.draining:
            error_class, reason = "shutting_down", "draining: the instance is shutting down"
        self.metrics.set(c.READY, 1 if error_class is None else 0)
        return error_class, (reason if error_class else "ready"), checks

    # --- conversation operations -------------------------------------------------------------

    def _classify_batch(self, texts: list[str]) -> list[Classified]:
        assert self.model is not None
        start = time.perf_counter()
        out = self.model.classify(texts)
        # AGENT_INFERENCE_FLOOR_MS pins the pod's capacity (the autoscaling lab): the inference
        # thread sleeps off the rest of n x floor, so throughput no longer depends on free cores.
        floor = self.settings.inference_floor_ms * len(texts) / 1000
        if floor > 0:
            time.sleep(max(0.0, floor - (time.perf_counter() - start)))
        return list(zip(out.labels, out.input_tokens, strict=True))

    async def message(self, conversation_id: str, text: str) -> dict[str, Any]:
        """Answer one user message; returns the API response body."""
        if not self.model_ready:
            raise AgentError("model_not_loaded", self.load_error or "model is loading; retry shortly")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.request_timeout_ms / 1000
        if self.faults.active:
            await self.faults.apply()
        with self.tel.span("state.fetch", metric=c.STATE_FETCH_DURATION,
                           attributes={CONVERSATION_ID: conversation_id}):
            snapshot = await self.store.fetch(conversation_id)
        if snapshot.status == "closed":
            raise AgentError("conversation_closed", f"conversation {conversation_id} is closed")
        intent, confidence = await self._classify(text, deadline)
        decision = await self._reply(intent, confidence, text, snapshot)
        with self.tel.span("state.save", metric=c.STATE_SAVE_DURATION,
                           attributes={CONVERSATION_ID: conversation_id}) as span:
            result = await self.store.append(
                conversation_id, ts=_now(), user_text=text, agent_text=decision.reply,
                low_confidence=decision.low_confidence, complaint=decision.complaint,
                escalate=decision.escalate, order=decision.order, topic=decision.topic,
                request_id=uuid.uuid4().hex)
            if result is None:
                raise AgentError("conversation_closed", f"conversation {conversation_id} is closed")
            span.set_attribute(TURN, result.turn)
        self.metrics.inc(c.INTENTS_TOTAL, intent=intent)
        self.metrics.observe(c.INTENT_CONFIDENCE, confidence)
        if result.started:
            self.metrics.inc(c.CONVERSATIONS_STARTED)
        if result.escalated_now and decision.escalate:
            self.metrics.inc(c.ESCALATIONS, reason=decision.escalate)
            log.info("conversation escalated", extra={"conversation_id": conversation_id,
                                                      "reason": decision.escalate, "turn": result.turn})
        return {"conversation_id": conversation_id, "turn": result.turn, "reply": decision.reply,
                "intent": intent, "confidence": round(confidence, 4),
                "escalated": decision.escalated or result.escalated_now}

    async def _classify(self, text: str, deadline: float) -> tuple[str, float]:
        item = self.batcher.submit(text, deadline)
        queued = time.perf_counter()
        try:
            # timeout_at, not wait_for: no extra future and callbacks per await (a timeout cancels
            # the awaited future either way, which the batcher skips).
            async with asyncio.timeout_at(deadline):
                batch_size = await item.started
        except TimeoutError:
            self.batcher.discard(item)
            self.metrics.observe(c.QUEUE_WAIT, time.perf_counter() - queued)
            raise expired_error(item) from None
        except asyncio.CancelledError:  # the client went away: free the place in the queue
            self.batcher.discard(item)
            raise
        wait = time.perf_counter() - queued
        attributes = genai.inference_attributes("classify", self.settings.model_name, batch_size=batch_size)
        attributes[genai.QUEUE_WAIT_SECONDS] = round(wait, 6)
        # The wait is an attribute of the inference span, not a span of its own: it has no children,
        # and its start and end are the submit time and this span's start.
        with self.tel.span("inference", kind=SpanKind.INTERNAL, attributes=attributes) as span:
            self.metrics.observe(c.QUEUE_WAIT, wait)  # exemplar: this trace, if it is kept
            try:
                async with asyncio.timeout_at(deadline):
                    (intent, confidence), tokens = await item.result
            except TimeoutError:
                raise AgentError("inference_timeout", "request deadline passed during inference") from None
            span.set_attributes({genai.USAGE_INPUT_TOKENS: tokens, INTENT: intent, CONFIDENCE: confidence})
        return intent, confidence

    async def _reply(self, intent: str, confidence: float, text: str, snapshot: Snapshot) -> Decision:
        decision = respond(intent, confidence, text, snapshot, self.policy)
        if self.generator is not None and not decision.escalated and not decision.low_confidence:
            generated = await self._generate(build_prompt(snapshot.turns, text, intent, decision.reply))
            if generated:
                decision = replace(decision, reply=generated)
        span = trace.get_current_span()  # the request's server span
        if span.is_recording():
            if decision.escalate:
                span.set_attribute(ESCALATION, decision.escalate)
            if decision.followup:
                span.set_attribute(FOLLOWUP, decision.topic or "")
            for key, value in ((CONTENT_INPUT, self.tel.content(text)),
                               (CONTENT_OUTPUT, self.tel.content(decision.reply))):
                if value is not None:
                    span.set_attribute(key, value)
        return decision

    async def _generate(self, prompt: str) -> str:
        s, gen = self.settings, self.generator
        with self.tel.span("inference", kind=SpanKind.INTERNAL,
                           attributes=genai.inference_attributes("generate", s.generator_name)) as span:
            out = await asyncio.get_running_loop().run_in_executor(
                self._gen_executor, gen.generate, prompt, s.generator_max_tokens)
            span.set_attributes(genai.inference_attributes(
                "generate", s.generator_name, input_tokens=out.input_tokens, output_tokens=out.output_tokens))
        self.metrics.observe(c.INFERENCE_DURATION, out.duration_s, model=s.generator_name, operation="generate")
        self.metrics.observe(c.GENERATION_TTFT, out.ttft_s, model=s.generator_name)
        self.metrics.inc(c.GENERATION_TOKENS, out.input_tokens, model=s.generator_name, token_type="input")
        self.metrics.inc(c.GENERATION_TOKENS, out.output_tokens, model=s.generator_name, token_type="output")
        return out.text

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        with self.tel.span("state.history", attributes={CONVERSATION_ID: conversation_id}):
            snapshot = await self.store.history(conversation_id)
        if not snapshot.exists:
            raise AgentError("context_not_found", f"no conversation with id {conversation_id}")
        return {"conversation_id": conversation_id, "status": snapshot.status,
                "outcome": snapshot.meta.get("outcome"),
                "turns": [{"turn": t.get("turn"), "role": t.get("role"), "text": t.get("text"),
                           "ts": t.get("ts")} for t in snapshot.turns]}

    async def close(self, conversation_id: str, outcome: str) -> dict[str, Any]:
        with self.tel.span("state.close", attributes={CONVERSATION_ID: conversation_id}):
            state, final, user_turns = await self.store.close(conversation_id, outcome, _now())
        if state == "missing":
            raise AgentError("context_not_found", f"no conversation with id {conversation_id}")
        if state == "closed":
            self._ended(Ended(conversation_id, final, user_turns))
        return {"conversation_id": conversation_id, "status": "closed", "outcome": final,
                "user_turns": user_turns}

    def _ended(self, ended: Ended) -> None:
        """Count an ending this instance won (``/close`` or the idle sweep): once, with its turns."""
        self.metrics.inc(c.CONVERSATIONS_ENDED, outcome=ended.outcome)
        self.metrics.observe(c.CONVERSATION_TURNS, ended.user_turns)
