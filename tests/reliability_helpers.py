"""Writers that record what the agent acknowledged, and the check that nothing acknowledged is lost.

A turn is *acknowledged* when its POST answered 200 with a turn number. After a fault, the stored
history must hold every acknowledged turn exactly once, at its number, in order; turns whose
request failed may or may not be there (the client never heard back), but never twice.

Usage::

    log = asyncio.run(write(["http://127.0.0.1:8001"], conversations=["c1", "c2"], writers=8, seconds=5))
    problems = verify(log, history_of)   # history_of(cid) -> the GET /v1/conversations/{cid} body
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Outcome:
    """One request: when it was sent and answered (monotonic), its status and error class."""

    conversation: str
    text: str
    sent: float
    answered: float
    status: int  # 0: no HTTP answer (connection refused, reset, client timeout)
    error_class: str | None = None
    turn: int | None = None

    @property
    def seconds(self) -> float:
        return self.answered - self.sent


@dataclass
class WriteLog:
    outcomes: list[Outcome] = field(default_factory=list)

    def acked(self) -> list[Outcome]:
        """Every 200, in the order they were answered."""
        return sorted((o for o in self.outcomes if o.status == 200 and o.turn is not None), key=lambda o: o.answered)

    def acknowledged(self) -> dict[str, dict[int, str]]:
        """conversation → {turn: text} of every 200 (a turn number acknowledged twice keeps the last)."""
        out: dict[str, dict[int, str]] = collections.defaultdict(dict)
        for o in self.acked():
            out[o.conversation][o.turn] = o.text  # type: ignore[index]
        return out

    def statuses(self) -> collections.Counter[tuple[int, str | None]]:
        return collections.Counter((o.status, o.error_class) for o in self.outcomes)

    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != 200]


async def write(urls: Sequence[str], conversations: Sequence[str], *, writers: int = 8, seconds: float | None = None,
                count: int | None = None, stop: asyncio.Event | None = None, timeout_s: float = 10.0,
                pace_s: float = 0.0, log: WriteLog | None = None) -> WriteLog:
    """``writers`` concurrent loops, each sending messages round-robin over ``conversations`` and
    ``urls`` (writer ``i`` starts at url ``i``), until ``seconds`` pass, ``count`` messages were sent
    in all, or ``stop`` is set. A connection error on one url moves that writer to the next url."""
    log = log if log is not None else WriteLog()
    sequence = itertools.count()
    deadline = time.monotonic() + seconds if seconds is not None else None

    def more() -> bool:
        return not ((deadline is not None and time.monotonic() >= deadline) or (stop is not None and stop.is_set()))

    async def writer(i: int, client: httpx.AsyncClient) -> None:
        u = i
        while more():
            n = next(sequence)
            if count is not None and n >= count:
                return
            cid = conversations[n % len(conversations)]
            text = f"writer {i} message {n}: where is order {10000 + n}?"
            sent = time.monotonic()
            try:
                response = await client.post(f"{urls[u % len(urls)]}/v1/conversations/{cid}/messages",
                                             json={"text": text})
            except (httpx.TransportError, httpx.TimeoutException):
                log.outcomes.append(Outcome(cid, text, sent, time.monotonic(), 0))
                u += 1  # try the next instance, as a load balancer would
                await asyncio.sleep(0.01)
                continue
            body = _json(response)
            error = (body.get("error") or {}).get("class") if response.status_code != 200 else None
            log.outcomes.append(Outcome(cid, text, sent, time.monotonic(), response.status_code, error,
                                        body.get("turn") if response.status_code == 200 else None))
            if pace_s:
                await asyncio.sleep(pace_s)

    limits = httpx.Limits(max_connections=writers * len(urls), max_keepalive_connections=writers * len(urls))
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
        await asyncio.gather(*(writer(i, client) for i in range(writers)))
    return log


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"error": {"class": f"not JSON: {response.text[:80]!r}"}}
    return body if isinstance(body, dict) else {}


def verify(log: WriteLog, history_of: Callable[[str], dict[str, Any]]) -> list[str]:
    """Every acknowledged turn present once, at its number, in order; turn numbers 1..n with no gap
    or repeat. Returns the problems found (empty: nothing lost)."""
    problems = []
    numbers = collections.Counter((o.conversation, o.turn) for o in log.acked())
    problems += [f"{cid}: turn {turn} acknowledged {n} times" for (cid, turn), n in numbers.items() if n > 1]
    for cid, acked in sorted(log.acknowledged().items()):
        history = history_of(cid)
        users = [t for t in history.get("turns", []) if t.get("role") == "user"]
        numbers = [t["turn"] for t in users]
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"{cid}: user turns are not 1..n in order: {numbers[:20]}...")
        by_turn = {t["turn"]: t["text"] for t in users}
        texts = collections.Counter(t["text"] for t in users)
        for turn, text in sorted(acked.items()):
            if by_turn.get(turn) != text:
                problems.append(f"{cid}: acknowledged turn {turn} ({text!r}) is missing or different")
            if texts[text] != 1:
                problems.append(f"{cid}: {text!r} is stored {texts[text]} times")
    return problems


def history_getter(url: str) -> Callable[[str], dict[str, Any]]:
    def get(cid: str) -> dict[str, Any]:
        response = httpx.get(f"{url}/v1/conversations/{cid}", timeout=30)
        response.raise_for_status()
        return response.json()

    return get


def lost(log: WriteLog, history_of: Callable[[str], dict[str, Any]]) -> list[Outcome]:
    """Acknowledged requests whose text is not stored at their turn (also when a later write was
    given the same turn number after a failover rolled the counter back)."""
    stored = {cid: {t["turn"]: t["text"] for t in history_of(cid).get("turns", []) if t.get("role") == "user"}
              for cid in {o.conversation for o in log.acked()}}
    return [o for o in log.acked() if stored[o.conversation].get(o.turn) != o.text]
