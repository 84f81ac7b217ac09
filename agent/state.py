"""Conversation state in Redis: atomic appends, a bounded read window, a cap and a TTL.

Two keys per conversation share a hash tag, so the Lua scripts work on Redis Cluster too:

* ``aw:{<id>}:turns`` — a list of JSON turns ``{"turn", "role", "text", "ts"}``, trimmed to the cap;
* ``aw:{<id>}:meta`` — a hash: ``status`` (open/escalated/closed), ``user_turns`` (the turn
  counter), ``low_streak``, ``complaints``, ``escalation_reason``, ``outcome``, context for later
  replies (``order``, ``topic``) and times.

One script call appends a user turn and its reply: it takes the next turn number, pushes both
entries, trims, updates the flags and refreshes the TTL as one atomic unit, so concurrent writers
on any number of instances never lose or reorder a turn. Reads fetch only the last N entries.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from agentwatch.agent.errors import AgentError
from agentwatch.agent.pipelining import AutoPipeline

__all__ = ["AppendResult", "ConversationStore", "Snapshot", "meta_key", "turns_key"]

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
redis.call('HSET', KEYS[2], 'updated', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return {turn, started, escalated_now}
"""

# Flags and the turns from index ARGV[1] on (negative: the last N) in one atomic command: one
# round trip and one reply to parse, where MULTI/HGETALL/LRANGE/EXEC is four.
_FETCH = """
return {redis.call('HGETALL', KEYS[2]), redis.call('LRANGE', KEYS[1], tonumber(ARGV[1]), -1)}
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
return {1, outcome, turns}
"""


def turns_key(conversation_id: str) -> str:
    return f"aw:{{{conversation_id}}}:turns"


def meta_key(conversation_id: str) -> str:
    return f"aw:{{{conversation_id}}}:meta"


@dataclass(frozen=True)
class Snapshot:
    """What one message needs: the conversation's flags and its most recent turns.

    ``raw_turns`` are the stored JSON entries; :attr:`turns` parses them on first use, so a reply
    that needs only the flags (the template replies) never pays for the parsing.
    """

    exists: bool
    meta: dict[str, str] = field(default_factory=dict)
    raw_turns: Sequence[str] = ()

    @cached_property
    def turns(self) -> list[dict[str, Any]]:
        return [json.loads(t) for t in self.raw_turns]

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

    def __init__(self, url: str, *, window: int, cap: int, ttl_seconds: int, timeout_s: float = 1.0) -> None:
        self.window, self.cap, self.ttl = window, cap, ttl_seconds
        # One retry survives a connection dropped by a Redis restart; no backoff keeps failures fast.
        self.client = aioredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1), health_check_interval=30,
        )
        self._fetch = self.client.register_script(_FETCH)
        self._append = self.client.register_script(_APPEND)
        # Reads and appends of concurrent requests share a pipeline per event-loop iteration.
        self._pipeline = AutoPipeline(self.client)
        self._close = self.client.register_script(_CLOSE)

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
            return _snapshot(await self._pipeline.run(self._fetch, self._keys(conversation_id), [-self.window]))

    async def history(self, conversation_id: str) -> Snapshot:
        """Every kept turn (up to the cap), for the conversation API."""
        async with self._guard("history"):
            return _snapshot(await self._pipeline.run(self._fetch, self._keys(conversation_id), [0]))

    @staticmethod
    def _keys(conversation_id: str) -> list[str]:
        return [turns_key(conversation_id), meta_key(conversation_id)]

    async def append(self, conversation_id: str, *, ts: str, user_text: str, agent_text: str,
                     low_confidence: bool, complaint: bool, escalate: str | None,
                     order: str | None, topic: str | None = None) -> AppendResult | None:
        """Append a user turn and its reply atomically; ``None`` if the conversation is closed."""
        entries = [_entry_tail("user", user_text, ts), _entry_tail("agent", agent_text, ts)]
        args = [self.ttl, self.cap, ts, *entries, int(low_confidence), int(complaint),
                escalate or "", order or "", topic or ""]
        async with self._guard("save"):
            turn, started, escalated = await self._pipeline.run(self._append, self._keys(conversation_id), args)
        if int(turn) < 0:
            return None
        return AppendResult(int(turn), bool(started), bool(escalated))

    async def close(self, conversation_id: str, outcome: str, ts: str) -> tuple[str, str, int]:
        """Close once: ``("closed"|"already_closed"|"missing", outcome, user_turns)``."""
        async with self._guard("close"):
            code, final, turns = await self._close(keys=[meta_key(conversation_id)], args=[outcome, ts])
        state = {0: "missing", 1: "closed", 2: "already_closed"}[int(code)]
        return state, str(final or ""), int(turns)

    async def aclose(self) -> None:
        await self.client.aclose()


def _snapshot(reply: list[list[str]]) -> Snapshot:
    flat, raw = reply
    meta = dict(zip(flat[::2], flat[1::2], strict=True))
    return Snapshot(bool(meta), meta, raw)


def _entry_tail(role: str, text: str, ts: str) -> str:
    # The script prepends '{"turn":N,' so the number is assigned inside the atomic unit.
    return json.dumps({"role": role, "text": text, "ts": ts}, ensure_ascii=False)[1:]
