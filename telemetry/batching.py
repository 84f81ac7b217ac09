"""A bounded, instrumented work queue in front of ONE worker that answers requests in batches.

Requests wait in a bounded queue; the worker takes up to ``max_batch`` of them — waiting at most
``max_wait_s`` for the batch to fill once it holds one — runs one ``run(payloads)`` call in a thread
(torch and most native code release the GIL, so the event loop keeps serving) and answers every
request of the batch with its own result. Recorded, from the catalogue:

* ``agent_queue_length`` / ``agent_queue_capacity`` — what waits, against the bound;
* ``agent_queue_wait_seconds`` — queue to batch start (in the ``queue.wait`` span of :meth:`Batcher.call`);
* ``agent_inference_batch_size`` and ``agent_inference_duration_seconds{model, operation}`` per call.

Shedding: a full queue, or one too long to answer before the request's deadline, rejects at once
with ``AppError("overloaded")`` — 429 and ``Retry-After`` (the time the queue ahead needs) through
:func:`agentwatch.telemetry.errors.install_error_handling`; a request whose deadline passes before
its batch starts is shed late as ``overloaded`` if it waited behind others, else it gets
``inference_timeout`` (504). ``stop(drain_s)`` answers the queue first; what is left gets
``shutting_down`` (503).

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
import threading
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

__all__ = ["Batcher", "Pending", "expired_error"]

T = TypeVar("T")
R = TypeVar("R")


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@dataclass(eq=False)
class Pending(Generic[T, R]):
    """One queued request: ``started`` resolves to its batch's size, ``result`` to its answer.

    ``expires`` is the deadline on ``time.monotonic()`` (the worker thread's clock); ``gone`` is set
    when the request gave up, so the thread skips it; ``behind`` is how many requests were queued
    ahead of it when it came (a running batch is not load: if it alone outlasts the deadline, the
    model is too slow, and that is an ``inference_timeout``).
    """

    payload: T
    deadline: float
    expires: float = 0.0
    behind: int = 0
    gone: bool = False
    started: asyncio.Future[int] = field(default_factory=_future)
    result: asyncio.Future[R] = field(default_factory=_future)


class Batcher(Generic[T, R]):
    """Bounded queue + one worker thread that forms and runs the batches; see the module docstring.

    The thread takes its next batch itself, right after the last one: under overload the event loop
    is busy turning the excess away, and a batch that waited for a loop turn to start would leave
    the model idle for that turn. The loop only queues requests and receives answers.
    """

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
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warmup")
        self._batch_s: float | None = None  # moving average of one call, once one ran
        self._last_s = 0.0
        self.metrics.allow("model", [model])
        self.metrics.set(c.QUEUE_CAPACITY, capacity)
        self.metrics.set(c.QUEUE_LENGTH, 0)
        for op in (operation, "warmup"):
            self.metrics.touch(c.INFERENCE_DURATION, model=model, operation=op)

    async def start(self) -> None:
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._stopping = False
            self._thread = threading.Thread(target=self._work, name="inference", daemon=True)
            self._thread.start()

    async def stop(self, drain_s: float = 0.0) -> None:
        """Answer the queue for up to ``drain_s`` seconds, then stop the thread; whatever is still
        queued or running fails with ``shutting_down`` (503: retry on another instance)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + drain_s
        while (self._pending or self._running) and self.running and loop.time() < until:
            await asyncio.sleep(0.01)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            left = [*self._running, *self._pending]
            self._pending.clear()
        for item in left:
            _fail(item, AppError("shutting_down", "the service is shutting down; retry on another instance"))
        self._thread = None
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def running(self) -> bool:
        """The worker is up (a readiness check: a dead worker would leave every request waiting)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def batch_seconds(self) -> float | None:
        """The pace of one call: the larger of its moving average and the last one, so a sudden
        slowdown counts at once and a single fast batch does not (``None`` before any)."""
        return None if self._batch_s is None else max(self._batch_s, self._last_s)

    def expected_wait_s(self, waiting: int) -> float:
        """Time until a request behind ``waiting`` others would be answered, at the recent pace."""
        return math.ceil((waiting + 1) / self.max_batch) * (self.batch_seconds or 0.0)

    def retry_after_s(self) -> int:
        """Whole seconds until the queue as it stands would be answered (at least 1): ``Retry-After``."""
        return max(1, math.ceil(self.expected_wait_s(len(self._pending))))

    def submit(self, payload: T, deadline: float) -> Pending[T, R]:
        """Queue ``payload`` (``deadline`` on the loop clock) or shed it with ``overloaded`` (429):
        when the queue is full, or so long that the answer would come after the deadline (a 429 now
        is better than a 504 later, and the request takes no place in a batch it cannot use)."""
        left = deadline - asyncio.get_running_loop().time()
        if len(self._pending) >= self.capacity:
            raise AppError("overloaded", f"the queue is full ({self.capacity} waiting); retry later",
                           headers={"Retry-After": str(self.retry_after_s())})
        if self._pending and self.expected_wait_s(len(self._pending)) > left:
            raise AppError("overloaded", "the queue would not answer before the deadline; retry later",
                           headers={"Retry-After": str(self.retry_after_s())})
        item: Pending[T, R] = Pending(payload, deadline, time.monotonic() + left, behind=len(self._pending))
        with self._cond:
            self._pending.append(item)
            self._cond.notify()
        self.metrics.set(c.QUEUE_LENGTH, len(self._pending))
        return item

    def discard(self, item: Pending[T, R]) -> None:
        """Take a request that gave up out of the queue (the thread skips it if it already took it)."""
        item.gone = True
        with self._cond, contextlib.suppress(ValueError):
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
                raise expired_error(item) from None
            except asyncio.CancelledError:  # the caller went away: free its place in the queue
                self.discard(item)
                raise
        span_attributes = {**genai.inference_attributes(self.operation, self.model, batch_size=batch_size),
                           **(attributes or {})}
        with self.tel.span("inference", attributes=span_attributes):
            try:
                return await asyncio.wait_for(item.result, max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise AppError("inference_timeout", "request deadline passed during inference") from None

    async def run_once(self, payloads: list[T], operation: str = "warmup") -> Sequence[R]:
        """One call outside the queue (a warm-up, before any request comes), timed like a batch."""
        start = time.perf_counter()
        out = await asyncio.get_running_loop().run_in_executor(self._executor, self.run, payloads)
        self.metrics.observe(c.INFERENCE_DURATION, time.perf_counter() - start, model=self.model,
                             operation=operation)
        return out

    # --- the worker thread ---------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            batch, expired = self._take()
            if batch is None:
                return
            self._post(self._started, batch, expired)
            if not batch:
                continue
            start = time.perf_counter()
            out: Sequence[R] | None = None
            error: AppError | None = None
            try:
                out = self.run([i.payload for i in batch])
                if len(out) != len(batch):
                    raise ValueError(f"run returned {len(out)} results for {len(batch)} payloads")
            except Exception as exc:  # a failed call fails its batch, not the worker
                out, error = None, AppError("internal", f"inference failed: {type(exc).__name__}")
            elapsed = time.perf_counter() - start
            self._last_s = elapsed
            self._batch_s = elapsed if self._batch_s is None else 0.8 * self._batch_s + 0.2 * elapsed
            with self._cond:
                self._running = []
            self._post(self._deliver, batch, out, error, elapsed)

    def _take(self) -> tuple[list[Pending[T, R]] | None, list[Pending[T, R]]]:
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
            now = time.monotonic()
            batch: list[Pending[T, R]] = []
            expired: list[Pending[T, R]] = []
            while self._pending and len(batch) < self.max_batch:
                item = self._pending.popleft()
                if not item.gone:
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

    def _started(self, batch: list[Pending[T, R]], expired: list[Pending[T, R]]) -> None:
        for item in expired:
            _fail(item, expired_error(item))
        for item in batch:
            if not item.started.done():
                item.started.set_result(len(batch))

    def _deliver(self, batch: list[Pending[T, R]], out: Sequence[R] | None, error: AppError | None,
                 elapsed: float) -> None:
        if out is None:
            for item in batch:
                _fail(item, error or AppError("internal", "inference failed"))
            return
        self.metrics.observe(c.INFERENCE_DURATION, elapsed, model=self.model, operation=self.operation)
        self.metrics.observe(c.INFERENCE_BATCH_SIZE, len(batch))
        for item, result in zip(batch, out, strict=True):
            if not item.result.done():
                item.result.set_result(result)


def expired_error(item: Pending[Any, Any]) -> AppError:
    """The error of a request whose deadline passed before its batch started: shed late as
    ``overloaded`` (429) when others were ahead of it — the load made it wait, the model did not —
    and ``inference_timeout`` (504) when nothing was (the deadline is shorter than a batch)."""
    if item.behind:
        return AppError("overloaded", f"request deadline passed with {item.behind} requests ahead in the "
                        "queue; retry later", headers={"Retry-After": "1"})
    return AppError("inference_timeout", "request deadline passed while queued")


def _fail(item: Pending[Any, Any], error: AppError) -> None:
    for future in (item.started, item.result):
        if not future.done():
            future.set_exception(error)
            future.exception()  # mark retrieved: nobody may await a request that gave up
