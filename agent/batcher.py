"""Dynamic batching: a bounded queue in front of ONE inference worker.

Requests wait in the queue; the worker takes up to ``max_batch`` of them — waiting at most
``max_wait`` for the batch to fill once it holds one — runs one forward pass in a thread (torch
releases the GIL, so the event loop keeps serving) and answers every request of the batch.
A full queue rejects at once (``overloaded``, 429 + ``Retry-After``); a request whose deadline
passes before its batch starts is dropped (``inference_timeout``, 504).

Usage::

    batcher = Batcher(model.classify, max_batch=8, max_wait_s=0.005, capacity=64,
                      metrics=tel.metrics, model="all-MiniLM-L6-v2")
    await batcher.start()
    item = batcher.submit("where is my order?", deadline=loop.time() + 2.0)
    batch_size = await item.started      # the request's batch began
    intent, confidence, tokens = await item.result
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from agentwatch.agent.errors import AgentError
from agentwatch.agent.model import Classification
from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry.metrics import Metrics

__all__ = ["Batcher", "Pending"]


@dataclass(eq=False)
class Pending:
    """One queued request: ``started`` resolves to the batch size, ``result`` to the answer."""

    text: str
    deadline: float
    started: asyncio.Future[int] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    result: asyncio.Future[tuple[str, float, int]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class Batcher:
    """Bounded queue + single worker; see the module docstring."""

    def __init__(self, run: Callable[[list[str]], Classification], *, max_batch: int, max_wait_s: float,
                 capacity: int, metrics: Metrics, model: str) -> None:
        self.run, self.max_batch, self.max_wait_s, self.capacity = run, max_batch, max_wait_s, capacity
        self.metrics, self.model = metrics, model
        self._pending: deque[Pending] = deque()
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._worker: asyncio.Task[None] | None = None
        self._last_batch_s = 0.02
        metrics.set(c.QUEUE_CAPACITY, capacity)
        metrics.set(c.QUEUE_LENGTH, 0)
        # Set twice per message: the gauge itself, not a label lookup each time (None: telemetry off).
        self._queue_length = metrics.child(c.QUEUE_LENGTH) if metrics.enabled else None

    async def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._loop(), name="inference-worker")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        for item in self._pending:
            _fail(item, AgentError("model_not_loaded", "the agent is shutting down"))
        self._pending.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __len__(self) -> int:
        return len(self._pending)

    def submit(self, text: str, deadline: float) -> Pending:
        """Queue ``text`` (``deadline`` on the loop clock) or raise ``overloaded``."""
        if len(self._pending) >= self.capacity:
            retry_after = max(1, math.ceil(len(self._pending) / self.max_batch * self._last_batch_s))
            raise AgentError("overloaded", f"inference queue is full ({self.capacity} waiting); retry later",
                             headers={"Retry-After": str(retry_after)})
        item = Pending(text, deadline)
        self._pending.append(item)
        if self._queue_length is not None:
            self._queue_length.set(len(self._pending))
        self._wakeup.set()
        return item

    def discard(self, item: Pending) -> None:
        """Take a request that gave up out of the queue (no-op once its batch has started)."""
        with contextlib.suppress(ValueError):
            self._pending.remove(item)
            self.metrics.set(c.QUEUE_LENGTH, len(self._pending))

    async def run_once(self, texts: list[str], operation: str = "warmup") -> Classification:
        """Run one forward pass on the inference thread outside the queue (warm-up)."""
        start = time.perf_counter()
        out = await asyncio.get_running_loop().run_in_executor(self._executor, self.run, texts)
        self.metrics.observe(c.INFERENCE_DURATION, time.perf_counter() - start,
                             model=self.model, operation=operation)
        return out

    async def _next_batch(self) -> list[Pending]:
        loop = asyncio.get_running_loop()
        while not self._pending:
            self._wakeup.clear()
            await self._wakeup.wait()
        fill_until, target = loop.time() + self.max_wait_s, min(self.max_batch, self.capacity)
        while len(self._pending) < target and (left := fill_until - loop.time()) > 0:
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), left)
            except TimeoutError:
                break
        batch = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
        if self._queue_length is not None:
            self._queue_length.set(len(self._pending))
        now, live = loop.time(), []
        for item in batch:
            if item.result.done() or item.started.done():
                continue  # the request already gave up
            if now >= item.deadline:
                _fail(item, AgentError("inference_timeout", "request deadline passed while queued"))
                continue
            live.append(item)
        return live

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            if not batch:
                continue
            for item in batch:
                item.started.set_result(len(batch))
            start = time.perf_counter()
            try:
                out = await loop.run_in_executor(self._executor, self.run, [i.text for i in batch])
            except Exception as exc:  # a failed forward pass fails its batch, not the worker
                error = AgentError("internal", f"inference failed: {type(exc).__name__}")
                for item in batch:
                    _fail(item, error)
                continue
            self._last_batch_s = time.perf_counter() - start
            self.metrics.observe(c.INFERENCE_DURATION, self._last_batch_s, model=self.model,
                                 operation="classify")
            self.metrics.observe(c.INFERENCE_BATCH_SIZE, len(batch))
            for item, (intent, confidence), tokens in zip(batch, out.labels, out.input_tokens, strict=True):
                if not item.result.done():
                    item.result.set_result((intent, confidence, tokens))


def _fail(item: Pending, error: AgentError) -> None:
    for future in (item.started, item.result):
        if not future.done():
            future.set_exception(error)
            future.exception()  # mark retrieved: nobody may await a request that gave up
