"""A bounded, instrumented work queue in front of ONE worker that answers requests in batches.

Requests wait in a bounded queue; the worker takes up to ``max_batch`` of them — waiting at most
``max_wait_s`` for the batch to fill once it holds one — runs one ``run(payloads)`` call in a thread
(torch and most native code release the GIL, so the event loop keeps serving) and answers every
request of the batch with its own result. Recorded, from the catalogue:

* ``agent_queue_length`` / ``agent_queue_capacity`` — what waits, against the bound;
* ``agent_queue_wait_seconds`` — queue to batch start (in the ``queue.wait`` span of :meth:`Batcher.call`);
* ``agent_inference_batch_size`` and ``agent_inference_duration_seconds{model, operation}`` per call.

Shedding: a full queue rejects at once with ``AppError("overloaded")`` — 429 and ``Retry-After`` (the
time the queue ahead needs) through :func:`agentwatch.telemetry.errors.install_error_handling`; a
request whose deadline passes before its batch starts gets ``inference_timeout`` (504).

Usage::

    batcher = Batcher(model.embed, telemetry=tel, model="bm25", operation="embed",
                      max_batch=8, max_wait_s=0.005, capacity=64)
    await batcher.start()                                 # in the app's lifespan
    vector = await batcher.call("where is my order?", timeout_s=2.0)
    await batcher.stop()

``run`` takes a list of payloads and returns one result per payload, in order. Hand-written: no
library offers an asyncio micro-batcher with a bounded queue, deadlines and these metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry import genai
from agentwatch.telemetry.errors import AppError

if TYPE_CHECKING:
    from agentwatch.telemetry.core import Telemetry

__all__ = ["Batcher", "Pending"]

T = TypeVar("T")
R = TypeVar("R")


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@dataclass(eq=False)
class Pending(Generic[T, R]):
    """One queued request: ``started`` resolves to its batch's size, ``result`` to its answer."""

    payload: T
    deadline: float
    started: asyncio.Future[int] = field(default_factory=_future)
    result: asyncio.Future[R] = field(default_factory=_future)


class Batcher(Generic[T, R]):
    """Bounded queue + single batching worker; see the module docstring."""

    def __init__(self, run: Callable[[list[T]], Sequence[R]], *, telemetry: Telemetry, model: str,
                 operation: str = "classify", max_batch: int = 8, max_wait_s: float = 0.005,
                 capacity: int = 64) -> None:
        if max_batch < 1 or capacity < 1 or max_wait_s < 0:
            raise ValueError("max_batch and capacity must be at least 1, max_wait_s not negative")
        self.run, self.tel, self.metrics = run, telemetry, telemetry.metrics
        self.model, self.operation = model, operation
        self.max_batch, self.max_wait_s, self.capacity = max_batch, max_wait_s, capacity
        self._pending: deque[Pending[T, R]] = deque()
        self._running: list[Pending[T, R]] = []  # the batch on the worker thread right now
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._worker: asyncio.Task[None] | None = None
        self._last_batch_s = 0.02
        self.metrics.allow("model", [model])
        self.metrics.set(c.QUEUE_CAPACITY, capacity)
        self.metrics.set(c.QUEUE_LENGTH, 0)
        for op in (operation, "warmup"):
            self.metrics.touch(c.INFERENCE_DURATION, model=model, operation=op)

    async def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._loop(), name="inference-worker")

    async def stop(self, drain_s: float = 0.0) -> None:
        """Answer the queue for up to ``drain_s`` seconds, then stop the worker; whatever is still
        queued or running fails with ``model_not_loaded`` (the service is shutting down)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + drain_s
        while (self._pending or self._running) and self.running and loop.time() < until:
            await asyncio.sleep(0.01)
        running = list(self._running)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        for item in [*running, *self._pending]:
            _fail(item, AppError("model_not_loaded", "the service is shutting down; retry on another instance"))
        self._pending.clear()
        self._running = []
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def running(self) -> bool:
        """The worker is up (a readiness check: a dead worker would leave every request waiting)."""
        return self._worker is not None and not self._worker.done()

    def retry_after_s(self) -> int:
        """Whole seconds until the queue as it stands would be answered (at least 1): ``Retry-After``."""
        return max(1, math.ceil(len(self._pending) / self.max_batch * self._last_batch_s))

    def submit(self, payload: T, deadline: float) -> Pending[T, R]:
        """Queue ``payload`` (``deadline`` on the loop clock) or shed it: ``overloaded`` (429)."""
        if len(self._pending) >= self.capacity:
            raise AppError("overloaded", f"the queue is full ({self.capacity} waiting); retry later",
                           headers={"Retry-After": str(self.retry_after_s())})
        item: Pending[T, R] = Pending(payload, deadline)
        self._pending.append(item)
        self.metrics.set(c.QUEUE_LENGTH, len(self._pending))
        self._wakeup.set()
        return item

    def discard(self, item: Pending[T, R]) -> None:
        """Take a request that gave up out of the queue (no-op once its batch has started)."""
        with contextlib.suppress(ValueError):
            self._pending.remove(item)
            self.metrics.set(c.QUEUE_LENGTH, len(self._pending))

    async def call(self, payload: T, timeout_s: float, *, attributes: Mapping[str, Any] | None = None) -> R:
        """Queue ``payload`` and return its result within ``timeout_s``.

        Two spans: ``queue.wait`` (observed on ``agent_queue_wait_seconds``) until the batch starts,
        then ``inference`` (GenAI attributes, the batch size, ``attributes``) until the answer.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        item = self.submit(payload, deadline)
        with self.tel.span("queue.wait", metric=c.QUEUE_WAIT):
            try:
                batch_size = await asyncio.wait_for(item.started, max(0.0, deadline - loop.time()))
            except TimeoutError:
                self.discard(item)
                raise AppError("inference_timeout", "request deadline passed while queued") from None
        span_attributes = {**genai.inference_attributes(self.operation, self.model, batch_size=batch_size),
                           **(attributes or {})}
        with self.tel.span("inference", attributes=span_attributes):
            try:
                return await asyncio.wait_for(item.result, max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise AppError("inference_timeout", "request deadline passed during inference") from None

    async def run_once(self, payloads: list[T], operation: str = "warmup") -> Sequence[R]:
        """One call on the worker's thread, outside the queue (a warm-up), timed like a batch."""
        start = time.perf_counter()
        out = await asyncio.get_running_loop().run_in_executor(self._executor, self.run, payloads)
        self.metrics.observe(c.INFERENCE_DURATION, time.perf_counter() - start, model=self.model,
                             operation=operation)
        return out

    async def _next_batch(self) -> list[Pending[T, R]]:
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
        self.metrics.set(c.QUEUE_LENGTH, len(self._pending))
        now, live = loop.time(), []
        for item in batch:
            if item.result.done() or item.started.done():
                continue  # the request already gave up
            if now >= item.deadline:
                _fail(item, AppError("inference_timeout", "request deadline passed while queued"))
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
            self._running = batch
            try:
                out = await loop.run_in_executor(self._executor, self.run, [i.payload for i in batch])
                if len(out) != len(batch):
                    raise ValueError(f"run returned {len(out)} results for {len(batch)} payloads")
            except Exception as exc:  # a failed call fails its batch, not the worker
                error = AppError("internal", f"inference failed: {type(exc).__name__}")
                for item in batch:
                    _fail(item, error)
                continue
            finally:
                self._running = []
            self._last_batch_s = time.perf_counter() - start
            self.metrics.observe(c.INFERENCE_DURATION, self._last_batch_s, model=self.model,
                                 operation=self.operation)
            self.metrics.observe(c.INFERENCE_BATCH_SIZE, len(batch))
            for item, result in zip(batch, out, strict=True):
                if not item.result.done():
                    item.result.set_result(result)


def _fail(item: Pending[Any, Any], error: AppError) -> None:
    for future in (item.started, item.result):
        if not future.done():
            future.set_exception(error)
            future.exception()  # mark retrieved: nobody may await a request that gave up
