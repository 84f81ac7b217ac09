"""Dynamic batching: a bounded queue in front of ONE inference thread.

Requests wait in the queue; the inference thread takes up to ``max_batch`` of them — waiting at
most ``max_wait`` for the batch to fill once it holds one — runs one forward pass (torch releases
the GIL, so the event loop keeps serving) and hands every answer back to the event loop.
A full queue rejects at once (``overloaded``, 429 + ``Retry-After``); a request whose deadline
passes before its batch starts is dropped: ``overloaded`` (429) if it waited behind others,
``inference_timeout`` (504) if it did not (see :func:`expired_error`).

The thread forms its next batch itself, right after the last one: under overload the event loop
is busy turning the excess away, and a batch that waited for a loop turn to start would leave
the model idle for that turn — the inference rate would fall to the loop's rate. The loop only
queues requests and receives answers (``call_soon_threadsafe``).

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
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from agentwatch.agent.errors import AgentError
from agentwatch.agent.model import Classification
from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry.metrics import Metrics

__all__ = ["Batcher", "Pending", "expired_error"]


@dataclass(eq=False)
class Pending:
    """One queued request: ``started`` resolves to the batch size, ``result`` to the answer.

    ``expires`` is the deadline on ``time.monotonic()`` (the inference thread's clock);
    ``gone`` is set when the request gave up, so the thread skips it; ``behind`` is how many
    requests were queued or running ahead of it when it came.
    """

    text: str
    expires: float
    behind: int = 0
    gone: bool = False
    started: asyncio.Future[int] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    result: asyncio.Future[tuple[str, float, int]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class Batcher:
    """Bounded queue + one inference thread; see the module docstring."""

    def __init__(self, run: Callable[[list[str]], Classification], *, max_batch: int, max_wait_s: float,
                 capacity: int, metrics: Metrics, model: str) -> None:
        self.run, self.max_batch, self.max_wait_s, self.capacity = run, max_batch, max_wait_s, capacity
        self.metrics, self.model = metrics, model
        self._pending: deque[Pending] = deque()
        self._running: list[Pending] = []  # the batch on the inference thread right now
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warmup")
        self._batch_s: float | None = None  # pace of a forward pass, once one ran (see batch_seconds)
        self._last_s = 0.0
        metrics.set(c.QUEUE_CAPACITY, capacity)
        metrics.set(c.QUEUE_LENGTH, 0)

    async def start(self) -> None:
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._thread = threading.Thread(target=self._work, name="inference", daemon=True)
            self._thread.start()

    async def stop(self, drain_s: float = 0.0) -> None:
        """Answer the queue for up to ``drain_s`` seconds, then stop the thread and fail what is left."""
        loop = asyncio.get_running_loop()
        until = loop.time() + drain_s
        while (self._pending or self._running) and self._thread is not None and loop.time() < until:
            await asyncio.sleep(0.01)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            left = [*self._running, *self._pending]
            self._pending.clear()
        for item in left:
            _fail(item, AgentError("shutting_down", "the agent is shutting down; retry on another instance"))
        self._thread = None
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def batch_seconds(self) -> float | None:
        """The pace of one forward pass: the larger of its moving average and the last one, so a
        sudden slowdown counts at once and a single fast batch does not (``None`` before any)."""
        return None if self._batch_s is None else max(self._batch_s, self._last_s)

    def expected_wait_s(self, waiting: int) -> float:
        """Time until a request behind ``waiting`` others would be answered, at the recent pace."""
        return math.ceil((waiting + 1) / self.max_batch) * (self.batch_seconds or 0.0)

    def retry_after_s(self) -> int:
        """Whole seconds until the queue as it stands now would be answered (at least 1)."""
        return max(1, math.ceil(self.expected_wait_s(len(self._pending))))

    def submit(self, text: str, deadline: float) -> Pending:
        """Queue ``text`` (``deadline`` on the loop clock) or raise ``overloaded``: when the queue is
        full, or when it is so long that the answer would come after the deadline (a 429 now is
        better than a 504 later, and the request never takes a place in a batch it cannot use)."""
        left = deadline - asyncio.get_running_loop().time()
        if len(self._pending) >= self.capacity:
            raise AgentError("overloaded", f"inference queue is full ({self.capacity} waiting); retry later",
                             headers={"Retry-After": str(self.retry_after_s())})
        if self._pending and self.expected_wait_s(len(self._pending)) > left:
            raise AgentError("overloaded", "inference queue would not answer before the deadline; retry later",
                             headers={"Retry-After": str(self.retry_after_s())})
        item = Pending(text, time.monotonic() + left, behind=len(self._pending) + len(self._running))
        with self._cond:
            self._pending.append(item)
            self._cond.notify()
        self.metrics.set(c.QUEUE_LENGTH, len(self._pending))
        return item

    def discard(self, item: Pending) -> None:
        """Take a request that gave up out of the queue (the thread skips it if it already took it)."""
        item.gone = True
        with self._cond, contextlib.suppress(ValueError):
            self._pending.remove(item)
        self.metrics.set(c.QUEUE_LENGTH, len(self._pending))

    async def run_once(self, texts: list[str], operation: str = "warmup") -> Classification:
        """Run one forward pass outside the queue (the warm-up, before any request is admitted)."""
        start = time.perf_counter()
        out = await asyncio.get_running_loop().run_in_executor(self._executor, self.run, texts)
        self.metrics.observe(c.INFERENCE_DURATION, time.perf_counter() - start,
                             model=self.model, operation=operation)
        return out

    # --- the inference thread ----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            batch, expired = self._take()
            if batch is None:
                return
            self._post(self._started, batch, expired)
            if not batch:
                continue
            start = time.perf_counter()
            out: Classification | None = None
            error: AgentError | None = None
            try:
                out = self.run([i.text for i in batch])
            except Exception as exc:  # a failed forward pass fails its batch, not the thread
                error = AgentError("internal", f"inference failed: {type(exc).__name__}")
            elapsed = time.perf_counter() - start
            self._last_s = elapsed
            self._batch_s = elapsed if self._batch_s is None else 0.8 * self._batch_s + 0.2 * elapsed
            with self._cond:
                self._running = []
            self._post(self._deliver, batch, out, error, elapsed)

    def _take(self) -> tuple[list[Pending] | None, list[Pending]]:
        """Wait for a batch: ``(batch, expired)``, or ``(None, [])`` once stopping."""
        with self._cond:
            while not self._pending:
                if self._stopping:
                    return None, []
                self._cond.wait()
            fill_until, target = time.monotonic() + self.max_wait_s, min(self.max_batch, self.capacity)
            while len(self._pending) < target and not self._stopping:
                left = fill_until - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if self._stopping:
                return None, []
            now, batch, expired = time.monotonic(), [], []
            while self._pending and len(batch) < self.max_batch:
                item = self._pending.popleft()
                if item.gone:
                    continue
                (expired if now >= item.expires else batch).append(item)
            self._running = batch
        self.metrics.set(c.QUEUE_LENGTH, len(self._pending))
        return batch, expired

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
                loop.call_soon_threadsafe(callback, *args)

    # --- back on the event loop ----------------------------------------------------------------

    def _started(self, batch: list[Pending], expired: list[Pending]) -> None:
        for item in expired:
            _fail(item, expired_error(item))
        for item in batch:
            if not item.started.done():
                item.started.set_result(len(batch))

    def _deliver(self, batch: list[Pending], out: Classification | None, error: AgentError | None,
                 elapsed: float) -> None:
        if out is None:
            for item in batch:
                _fail(item, error or AgentError("internal", "inference failed"))
            return
        self.metrics.observe(c.INFERENCE_DURATION, elapsed, model=self.model, operation="classify")
        self.metrics.observe(c.INFERENCE_BATCH_SIZE, len(batch))
        for item, (intent, confidence), tokens in zip(batch, out.labels, out.input_tokens, strict=True):
            if not item.result.done():
                item.result.set_result((intent, confidence, tokens))


def expired_error(item: Pending) -> AgentError:
    """The error of a request whose deadline passed before its batch started: shed late as
    ``overloaded`` (429) when others were ahead of it — the load made it wait, the model did not —
    and ``inference_timeout`` (504) when nothing was (the deadline is shorter than a batch)."""
    if item.behind:
        return AgentError("overloaded", f"request deadline passed with {item.behind} requests ahead in the "
                          "inference queue; retry later", headers={"Retry-After": "1"})
    return AgentError("inference_timeout", "request deadline passed while queued")


def _fail(item: Pending, error: AgentError) -> None:
    for future in (item.started, item.result):
        if not future.done():
            future.set_exception(error)
            future.exception()  # mark retrieved: nobody may await a request that gave up
