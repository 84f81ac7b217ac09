"""Load for the autoscaling lab: a load shape and a bounded, open-loop asyncio httpx driver.

The lab is written against :class:`LoadDriver` (``run(url, shape) -> LoadRecord``) so another load
generator can stand in; :class:`HttpxDriver` is the one used here. It offers messages at the
shape's rate whatever the service does (open loop: a saturated service does not slow the
arrivals, which is what a spike is), each message a turn of a scripted conversation
(``agentwatch.load.personas.PERSONAS``, the locustfile's customers): a conversation's next
turn is sent only after the previous one
was acknowledged and a think time passed, so every conversation's turns are ordered. A client
retries what a real one would (429, 502, 503, 504, connection errors) for at most
``turn_deadline_s``; in-flight messages are capped (``max_in_flight``) so the driver stays
bounded. Retries back off exponentially with full jitter and honour ``Retry-After``. At the end
every conversation is read back: an acknowledged turn missing from
``GET /v1/conversations/{id}`` is a *lost* turn.

Usage::

    shape = spike_shape(base=10, factor=5, before=90, spike=150, after=390)
    record = await HttpxDriver().run("http://127.0.0.1:8080", shape)
    record.lost_turns      # must be 0
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import random
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from agentwatch.load.personas import PERSONAS, Persona

__all__ = ["HttpxDriver", "LoadDriver", "LoadRecord", "StepShape", "TurnRecord", "spike_shape"]

_RETRY_STATUS = {429, 502, 503, 504}


@dataclass(frozen=True)
class StepShape:
    """Offered messages per second as steps: ``steps[i] = (start_s, rate)``; ends at ``duration``."""

    steps: tuple[tuple[float, float], ...]
    duration: float
    #: Named moments (e.g. ``spike_start``) for the report.
    marks: dict[str, float] = field(default_factory=dict)

    def rate(self, t: float) -> float:
        i = bisect.bisect_right([s for s, _ in self.steps], t) - 1
        return self.steps[i][1] if i >= 0 else 0.0


def spike_shape(base: float, factor: float = 5.0, before: float = 90.0, spike: float = 150.0, after: float = 390.0,
                burst_at: float | None = None, burst_len: float = 8.0, burst_factor: float = 3.0) -> StepShape:
    """``base`` msg/s, then ``factor`` times that for ``spike`` seconds (the 9 a.m. surge), then
    ``base`` again; optionally a short burst (one bursty scrape) ``burst_at`` seconds in."""
    steps = [(0.0, base)]
    if burst_at is not None and burst_at + burst_len < before:
        steps += [(burst_at, base * burst_factor), (burst_at + burst_len, base)]
    steps += [(before, base * factor), (before + spike, base)]
    marks = {"spike_start": before, "spike_end": before + spike}
    if burst_at is not None:
        marks["burst_start"] = burst_at
    return StepShape(tuple(steps), before + spike + after, marks)


@dataclass
class TurnRecord:
    """One user turn as the client saw it (wall-clock times)."""

    conversation: str
    index: int
    start: float
    end: float = 0.0
    attempts: int = 0
    status: int | None = None
    acknowledged_turn: int | None = None

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass
class LoadRecord:
    """What a run did: every turn, every attempt's status, and the read-back check."""

    started: float
    turns: list[TurnRecord] = field(default_factory=list)
    attempt_codes: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    conversations: int = 0
    lost_turns: int = 0
    checked_conversations: int = 0

    @property
    def acknowledged(self) -> int:
        return sum(1 for t in self.turns if t.acknowledged_turn is not None)

    @property
    def failed_turns(self) -> int:
        return sum(1 for t in self.turns if t.acknowledged_turn is None)


class LoadDriver(Protocol):
    """What the lab needs from a load generator."""

    async def run(self, url: str, shape: StepShape) -> LoadRecord: ...


@dataclass
class _Conversation:
    cid: str
    persona: Persona
    next_turn: int = 0
    ready_at: float = 0.0
    acknowledged: list[int] = field(default_factory=list)


class HttpxDriver:
    """The bounded open-loop driver described in the module docstring."""

    def __init__(self, *, think_time_s: float = 1.0, max_in_flight: int = 400, turn_deadline_s: float = 30.0,
                 seed: int = 12) -> None:
        self.think_time_s, self.max_in_flight, self.turn_deadline_s = think_time_s, max_in_flight, turn_deadline_s
        self.rng = random.Random(seed)

    async def run(self, url: str, shape: StepShape) -> LoadRecord:
        url = url.rstrip("/")
        record = LoadRecord(started=time.time())
        waiting: deque[_Conversation] = deque()
        everyone: list[_Conversation] = []
        slots = asyncio.Semaphore(self.max_in_flight)
        tasks: set[asyncio.Task[None]] = set()
        weights = [p.weight for p in PERSONAS]
        limits = httpx.Limits(max_connections=self.max_in_flight, max_keepalive_connections=64)
        t0 = time.monotonic()
        async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
            while (t := time.monotonic() - t0) < shape.duration:
                rate = shape.rate(t)
                if rate <= 0:
                    await asyncio.sleep(0.1)
                    continue
                await asyncio.sleep(self.rng.expovariate(rate))
                now = time.monotonic()
                conv = waiting.popleft() if waiting and waiting[0].ready_at <= now else None
                if conv is None:
                    persona = self.rng.choices(PERSONAS, weights)[0]
                    conv = _Conversation(f"lab-{persona.name}-{uuid.uuid4().hex[:10]}", persona)
                    everyone.append(conv)
                    record.conversations += 1
                await slots.acquire()
                task = asyncio.create_task(self._turn(client, url, conv, record, waiting, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            await self._verify(client, url, everyone, record)
        return record

    async def _turn(self, client: httpx.AsyncClient, url: str, conv: _Conversation, record: LoadRecord,
                    waiting: deque[_Conversation], slots: asyncio.Semaphore) -> None:
        try:
            turn = TurnRecord(conv.cid, conv.next_turn, time.time())
            record.turns.append(turn)
            text = conv.persona.messages[conv.next_turn].format(order=48213)
            deadline = time.monotonic() + self.turn_deadline_s
            body = None
            while time.monotonic() < deadline:
                turn.attempts += 1
                try:
                    response = await client.post(f"{url}/v1/conversations/{conv.cid}/messages", json={"text": text})
                except httpx.HTTPError:
                    record.transport_errors += 1
                    await asyncio.sleep(self._backoff(turn.attempts, None))
                    continue
                record.attempt_codes[response.status_code] += 1
                turn.status = response.status_code
                if response.status_code == 200:
                    body = response.json()
                    break
                if response.status_code not in _RETRY_STATUS:
                    break
                await asyncio.sleep(self._backoff(turn.attempts, response.headers.get("retry-after")))
            turn.end = time.time()
            if body is None:
                return  # a failed turn: the conversation goes no further
            turn.acknowledged_turn = int(body["turn"])
            conv.acknowledged.append(turn.acknowledged_turn)
            conv.next_turn += 1
            if body.get("escalated") or conv.next_turn >= len(conv.persona.messages):
                if conv.persona.close:
                    await _quietly(client.post(f"{url}/v1/conversations/{conv.cid}/close",
                                               json={"outcome": conv.persona.close}))
                return
            conv.ready_at = time.monotonic() + self.think_time_s
            waiting.append(conv)
        finally:
            slots.release()

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        """Exponential backoff with full jitter (0.5 s doubling, at most 8 s), never sooner than
        ``Retry-After``: a well-behaved client does not turn an overload into a retry storm."""
        delay = self.rng.uniform(0, min(8.0, 0.5 * 2 ** (attempt - 1)))
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        return delay

    async def _verify(self, client: httpx.AsyncClient, url: str, conversations: list[_Conversation],
                      record: LoadRecord) -> None:
        """Read every conversation back; count acknowledged turns that are missing."""
        for conv in conversations:
            if not conv.acknowledged:
                continue
            for _ in range(5):
                try:
                    response = await client.get(f"{url}/v1/conversations/{conv.cid}")
                except httpx.HTTPError:
                    await asyncio.sleep(1.0)
                    continue
                if response.status_code in _RETRY_STATUS:
                    await asyncio.sleep(1.0)
                    continue
                break
            else:
                record.lost_turns += len(conv.acknowledged)
                continue
            stored = {t.get("turn") for t in response.json().get("turns", []) if t.get("role") == "user"} \
                if response.status_code == 200 else set()
            record.lost_turns += sum(1 for turn in conv.acknowledged if turn not in stored)
            record.checked_conversations += 1


async def _quietly(request: object) -> None:
    with contextlib.suppress(httpx.HTTPError):
        await request  # type: ignore[misc]
