"""End idle conversations so the business KPIs count every conversation, exactly once.

Most chat front ends never call ``/close``: without this, such a conversation never ends, and the
escalation rate and first-contact resolution are computed over the few that were closed. Every
instance runs an :class:`IdleSweeper`; there is no per-process timer and no reliance on key expiry.

* Each append records the conversation's last activity in the sorted set of the version that
  served it (``aw:{idle}:active:<version>``; ``ConversationStore(track_activity=True)``), and the
  conversation's own ``active_ms``. Open conversations do not expire.
* A sweep reads the ids idle past the cut-off from its own version's set (after ``timeout``) and
  from every other version's set (after ``2 x timeout``: their instances may be gone), then ends each
  with one script on the conversation's own keys. That script is the claim: it ends the conversation
  only if it is still open and still idle, atomically, so whichever instance runs it first counts
  the ending and every other instance sees "already ended". The ending is ``timed_out`` (or
  ``escalated`` when a human took over), with the conversation's turn count, like ``/close``.
* Ids that were ended, closed or vanished leave the index (only if not touched again meanwhile).

Preferring its own version keeps per-version KPIs honest during a rollout: the version that served
a conversation last is the one whose counters end it, while the other versions' instances wait
twice as long before they step in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.exceptions import RedisError

from agentwatch.agent.state import VERSIONS_KEY, ConversationStore, activity_key, meta_key, turns_key

__all__ = ["Ended", "IdleSweeper"]

log = logging.getLogger("agentwatch.agent")

#: Ends one conversation if it is open and idle since ARGV[1] (ms); 1 = ended now (the claim),
#: 0 = missing, 2 = already closed, 3 = active again. Sets the ended conversation's TTL.
_END_IDLE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, '', 0} end
if redis.call('HGET', KEYS[1], 'status') == 'closed' then return {2, '', 0} end
local active = tonumber(redis.call('HGET', KEYS[1], 'active_ms') or '0') or 0
if active > tonumber(ARGV[1]) then return {3, '', 0} end
local turns = tonumber(redis.call('HGET', KEYS[1], 'user_turns') or '0')
local outcome = 'timed_out'
if redis.call('HEXISTS', KEYS[1], 'escalation_reason') == 1 then outcome = 'escalated' end
redis.call('HSET', KEYS[1], 'status', 'closed', 'outcome', outcome, 'updated', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {1, outcome, turns}
"""

#: Removes ids from one version's set if they were not touched after the cut-off; forgets the
#: version once its set is empty (a later touch adds it back: both scripts are atomic).
_FORGET = """
for i = 3, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) <= tonumber(ARGV[1]) then redis.call('ZREM', KEYS[1], ARGV[i]) end
end
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
"""


@dataclass(frozen=True)
class Ended:
    """A conversation this instance ended (and must count)."""

    conversation_id: str
    outcome: str
    user_turns: int


class IdleSweeper:
    """Ends conversations idle for ``timeout_s`` (see the module doc); ``on_end`` counts each."""

    def __init__(self, store: ConversationStore, *, timeout_s: float, interval_s: float,
                 on_end: Callable[[Ended], None], batch: int = 200, max_batches: int = 10) -> None:
        self.store, self.client, self.version = store, store.client, store.version
        self.timeout_ms, self.interval_s = int(timeout_s * 1000), interval_s
        self.on_end, self.batch, self.max_batches = on_end, batch, max_batches
        self._end = self.client.register_script(_END_IDLE)
        self._forget = self.client.register_script(_FORGET)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="idle-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.sweep()
            except (RedisError, OSError) as exc:  # Redis away: readiness says so; try again next tick
                log.warning("idle sweep failed", extra={"error": type(exc).__name__})

    async def sweep(self, now_ms: int | None = None) -> list[Ended]:
        """One pass over every version's index; returns (and reports) what this instance ended."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        versions = sorted(await self.client.smembers(VERSIONS_KEY) | {self.version},
                          key=lambda v: v != self.version)
        ended: list[Ended] = []
        for version in versions:
            cutoff = now_ms - self.timeout_ms * (1 if version == self.version else 2)
            for _ in range(self.max_batches):
                ids = await self.client.zrangebyscore(activity_key(version), "-inf", cutoff,
                                                      start=0, num=self.batch)
                if not ids:
                    break
                ended += await self._end_all(ids, cutoff)
                await self._forget(keys=[activity_key(version), VERSIONS_KEY], args=[cutoff, version, *ids])
                if len(ids) < self.batch:
                    break
        for item in ended:
            self.on_end(item)
        return ended

    async def _end_all(self, ids: list[str], cutoff: int) -> list[Ended]:
        ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        pipe = self.client.pipeline(transaction=False)
        for cid in ids:
            await self._end(keys=[meta_key(cid), turns_key(cid)], args=[cutoff, ts, self.store.ttl], client=pipe)
        results = await pipe.execute()
        return [Ended(cid, str(outcome), int(turns)) for cid, (code, outcome, turns) in zip(ids, results, strict=True)
                if int(code) == 1]
