"""Conversation state in Redis: atomic appends, a bounded read window, a cap and a TTL.

Two keys per conversation share a hash tag, so the Lua scripts work on Redis Cluster too:

* ``aw:{<id>}:turns`` — a list of JSON turns ``{"turn", "role", "text", "ts"}``, trimmed to the cap;
* ``aw:{<id>}:meta`` — a hash: ``status`` (open/escalated/closed), ``user_turns`` (the turn
  counter), ``low_streak``, ``complaints``, ``escalation_reason``, ``outcome``, context for later
  replies (``order``, ``topic``) and times.

One script call appends a user turn and its reply: it takes the next turn number, pushes both
entries, trims, updates the flags and refreshes the TTL as one atomic unit, so concurrent writers
on any number of instances never lose or reorder a turn. Reads fetch only the last N entries.

With an idle timeout (``agentwatch.agent.idle``) every append also records the conversation's
last activity in a per-version sorted set (``aw:{idle}:active:<version>``), in the same round trip
and before the append, and open conversations do not expire: the sweep ends an idle one (counted
once), and only an ended conversation starts its TTL, so key expiry can never drop an ending.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError
from redis.retry import Retry

from agentwatch.agent.errors import AgentError

__all__ = ["AppendResult", "ConversationStore", "Snapshot", "activity_key", "meta_key", "turns_key"]

_APPEND = """
local status = redis.call('HGET', KEYS[2], 'status')
if status == 'closed' then return {-1, 0, 0} end
local turn = redis.call('HINCRBY', KEYS[2], 'user_turns', 1)
local started = 0
if turn == 1 then
  started = 1
  redis.call('HSET', KEYS[2], 'status', 'open', 'created', ARGV[3])
end
local prefix = '{"turn":' .. turn .. ','
redis.call('RPUSH', KEYS[1], prefix .. ARGV[4], prefix .. ARGV[5])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
if ARGV[6] == '1' then
  redis.call('HINCRBY', KEYS[2], 'low_streak', 1)
else
  redis.call('HSET', KEYS[2], 'low_streak', 0)
end
if ARGV[7] == '1' then redis.call('HINCRBY', KEYS[2], 'complaints', 1) end
local escalated_now = 0
if ARGV[8] ~= '' and redis.call('HSETNX', KEYS[2], 'escalation_reason', ARGV[8]) == 1 then
  redis.call('HSET', KEYS[2], 'status', 'escalated')
  escalated_now = 1
end
if ARGV[9] ~= '' then redis.call('HSET', KEYS[2], 'order', ARGV[9]) end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[2], 'topic', ARGV[10]) end
redis.call('HSET', KEYS[2], 'updated', ARGV[3], 'active_ms', ARGV[11])
if ARGV[1] == '0' then
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return {turn, started, escalated_now}
"""

_CLOSE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, '', 0} end
local turns = tonumber(redis.call('HGET', KEYS[1], 'user_turns') or '0')
if redis.call('HGET', KEYS[1], 'status') == 'closed' then
  return {2, redis.call('HGET', KEYS[1], 'outcome'), turns}
end
local outcome = ARGV[1]
if redis.call('HEXISTS', KEYS[1], 'escalation_reason') == 1 then outcome = 'escalated' end
redis.call('HSET', KEYS[1], 'status', 'closed', 'outcome', outcome, 'updated', ARGV[2])
if ARGV[3] ~= '0' then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return {1, outcome, turns}
"""

#: Record activity: the conversation's last-activity time in its version's set, the version in the
#: set of versions. Both keys share the ``{idle}`` hash tag (one slot on Redis Cluster).
_TOUCH = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
"""

#: The activity index, hash-tagged so its scripts stay in one Redis Cluster slot.
IDLE_TAG = "aw:{idle}"
VERSIONS_KEY = f"{IDLE_TAG}:versions"


def activity_key(version: str) -> str:
    """Sorted set of conversation ids last served by ``version``, scored by last activity (ms)."""
    return f"{IDLE_TAG}:active:{version}"


def turns_key(conversation_id: str) -> str:
    return f"aw:{{{conversation_id}}}:turns"


def meta_key(conversation_id: str) -> str:
    return f"aw:{{{conversation_id}}}:meta"


@dataclass(frozen=True)
class Snapshot:
    """What one message needs: the conversation's flags and its most recent turns."""

    exists: bool
    meta: dict[str, str] = field(default_factory=dict)
    turns: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.meta.get("status", "open")

    def number(self, name: str) -> int:
        return int(self.meta.get(name, "0") or 0)


@dataclass(frozen=True)
class AppendResult:
    turn: int
    started: bool
    escalated_now: bool


class ConversationStore:
    """Async Redis store; every Redis failure surfaces as ``state_store_unavailable`` (503)."""

    def __init__(self, url: str, *, window: int, cap: int, ttl_seconds: int, timeout_s: float = 1.0,
                 track_activity: bool = False, version: str = "") -> None:
        """``track_activity``: index last activity per ``version`` for the idle sweep (see module doc)."""
        self.window, self.cap, self.ttl = window, cap, ttl_seconds
        self.track_activity, self.version = track_activity, version
        # One retry survives a connection dropped by a Redis restart; no backoff keeps failures fast.
        self.client = aioredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1), health_check_interval=30,
        )
        self._append = self.client.register_script(_APPEND)
        self._close = self.client.register_script(_CLOSE)
        self._touch = self.client.register_script(_TOUCH)

    @asynccontextmanager
    async def _guard(self, what: str) -> AsyncIterator[None]:
        try:
            yield
        except (RedisError, OSError) as exc:
            raise AgentError("state_store_unavailable",
                             f"state store unavailable during {what}: {type(exc).__name__}") from exc

    async def ping(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError):
            return False

    async def fetch(self, conversation_id: str) -> Snapshot:
        """Flags and the last ``window`` turns, in one round trip: constant cost at any length."""
        async with self._guard("fetch"):
            pipe = self.client.pipeline(transaction=True)
            pipe.hgetall(meta_key(conversation_id))
            pipe.lrange(turns_key(conversation_id), -self.window, -1)
            meta, raw = await pipe.execute()
        return Snapshot(bool(meta), meta, [json.loads(t) for t in raw])

    async def history(self, conversation_id: str) -> Snapshot:
        """Every kept turn (up to the cap), for the conversation API."""
        async with self._guard("history"):
            pipe = self.client.pipeline(transaction=True)
            pipe.hgetall(meta_key(conversation_id))
            pipe.lrange(turns_key(conversation_id), 0, -1)
            meta, raw = await pipe.execute()
        return Snapshot(bool(meta), meta, [json.loads(t) for t in raw])

    async def append(self, conversation_id: str, *, ts: str, user_text: str, agent_text: str,
                     low_confidence: bool, complaint: bool, escalate: str | None,
                     order: str | None, topic: str | None = None) -> AppendResult | None:
        """Append a user turn and its reply atomically; ``None`` if the conversation is closed."""
        entries = [_entry_tail("user", user_text, ts), _entry_tail("agent", agent_text, ts)]
        now_ms = int(time.time() * 1000)
        args = [0 if self.track_activity else self.ttl, self.cap, ts, *entries, int(low_confidence),
                int(complaint), escalate or "", order or "", topic or "", now_ms]
        keys = [turns_key(conversation_id), meta_key(conversation_id)]
        async with self._guard("save"):
            if not self.track_activity:
                turn, started, escalated = await self._append(keys=keys, args=args)
            else:
                turn, started, escalated = await self._touch_and_append(conversation_id, keys, args, now_ms)
        if int(turn) < 0:
            return None
        return AppendResult(int(turn), bool(started), bool(escalated))

    async def _touch_and_append(self, conversation_id: str, keys: list[str], args: list[Any],
                                now_ms: int) -> Any:
        """Index the activity, then append, in one round trip (the index entry goes first, so an
        append never lacks one). Plain EVALSHA in the pipeline: a registered script there costs a
        SCRIPT EXISTS round trip per call; a script missing after a Redis restart is loaded and only
        that command re-run (re-running an executed append would duplicate a turn)."""
        touch_keys, touch_args = [activity_key(self.version), VERSIONS_KEY], [now_ms, conversation_id, self.version]
        pipe = self.client.pipeline(transaction=False)
        pipe.evalsha(self._touch.sha, 2, *touch_keys, *touch_args)
        pipe.evalsha(self._append.sha, 2, *keys, *args)
        touched, appended = await pipe.execute(raise_on_error=False)
        if isinstance(touched, NoScriptError):
            touched = await self._touch(keys=touch_keys, args=touch_args)
        if isinstance(appended, NoScriptError):
            appended = await self._append(keys=keys, args=args)
        for result in (touched, appended):
            if isinstance(result, Exception):
                raise result
        return appended

    async def close(self, conversation_id: str, outcome: str, ts: str) -> tuple[str, str, int]:
        """Close once: ``("closed"|"already_closed"|"missing", outcome, user_turns)``."""
        async with self._guard("close"):
            code, final, turns = await self._close(keys=[meta_key(conversation_id), turns_key(conversation_id)],
                                                   args=[outcome, ts, self.ttl if self.track_activity else 0])
        state = {0: "missing", 1: "closed", 2: "already_closed"}[int(code)]
        return state, str(final or ""), int(turns)

    async def aclose(self) -> None:
        await self.client.aclose()


def _entry_tail(role: str, text: str, ts: str) -> str:
    # The script prepends '{"turn":N,' so the number is assigned inside the atomic unit.
    return json.dumps({"role": role, "text": text, "ts": ts}, ensure_ascii=False)[1:]
