"""Conversation state in Redis: atomic appends, a bounded read window, a cap and a TTL.

Two keys per conversation share a hash tag, so the Lua scripts work on Redis Cluster too:

* ``aw:{<id>}:turns`` — a list of JSON turns ``{"turn", "role", "text", "ts"}``, trimmed to the cap;
* ``aw:{<id>}:meta`` — a hash: ``status`` (open/escalated/closed), ``user_turns`` (the turn
  counter), ``low_streak``, ``complaints``, ``escalation_reason``, ``outcome``, context for later
  replies (``order``, ``topic``) and times.

One script call appends a user turn and its reply: it takes the next turn number, pushes both
entries, trims, updates the flags and refreshes the TTL as one atomic unit, so concurrent writers
on any number of instances never lose or reorder a turn. Reads fetch only the last N entries, also
in one script (a single-slot call works the same on one node and on a cluster).

With an idle timeout (``agentwatch.agent.idle``) every append also records the conversation's
last activity in a per-version sorted set (``aw:{idle}:active:<version>``), in the same round trip
and before the append, and open conversations do not expire: the sweep ends an idle one (counted
once), and only an ended conversation starts its TTL, so key expiry can never drop an ending.

Failure classes, so alerts tell the truth:

* Redis down, slow, failing over, out of memory → ``state_store_unavailable`` (503), bounded by the
  command timeout. A command is retried once at once (a pooled connection may have died with a
  Redis restart, a cluster may have moved a slot); each append carries a request id that the script
  looks for among the latest entries, so a retried append whose first answer was lost is applied
  once;
* no free connection within ``pool_timeout_s`` → ``overloaded`` (429): the agent's own pool is
  exhausted while Redis is fine. The admission limit in front of the app keeps it from happening.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry  # the asyncio one: the sync Retry never retries a coroutine
from redis.backoff import NoBackoff
from redis.exceptions import MaxConnectionsError, NoScriptError, RedisError

from agentwatch.agent.errors import AgentError
from agentwatch.agent.pipelining import AutoPipeline

log = logging.getLogger("agentwatch.agent")

__all__ = ["AppendResult", "ConversationStore", "Snapshot", "activity_key", "meta_key", "turns_key"]

_APPEND = """
local status = redis.call('HGET', KEYS[2], 'status')
if status == 'closed' then return {-1, 0, 0} end
if ARGV[12] ~= '' then
  local needle = '"rid": "' .. ARGV[12] .. '"'
  local recent = redis.call('LRANGE', KEYS[1], -64, -1)
  for i = #recent, 1, -1 do
    if string.find(recent[i], needle, 1, true) then
      return {tonumber(string.match(recent[i], '^{"turn":(%d+),')), 0, 0}
    end
  end
end
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

_FETCH = """
return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], ARGV[1], -1)}
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
    """Async Redis (or Redis Cluster) store; see the module docstring for how failures are classed.

    ``pool_size``: requests that may hold a connection at once (the agent passes its admission
    limit). Waiting for one is bounded by an ``asyncio.Semaphore`` in front of the client rather
    than by redis-py's ``BlockingConnectionPool``: that pool reports its wait timeout as a plain
    ``ConnectionError`` (the same class as a dead Redis), and the cluster client has no waiting
    pool at all, so the semaphore is the one place both modes wait alike and are classed right.
    """

    #: Connections beyond ``pool_size`` for probes, which bypass the semaphore.
    SPARE_CONNECTIONS = 4

    def __init__(self, url: str, *, window: int, cap: int, ttl_seconds: int, timeout_s: float = 1.0,
                 cluster: bool = False, pool_size: int = 64, pool_timeout_s: float = 0.1,
                 track_activity: bool = False, version: str = "") -> None:
        """``track_activity``: index last activity per ``version`` for the idle sweep (see module doc)."""
        self.window, self.cap, self.ttl = window, cap, ttl_seconds
        self.track_activity, self.version = track_activity, version
        self.cluster, self.timeout_s, self.pool_timeout_s = cluster, timeout_s, pool_timeout_s
        # One immediate retry: safe, every script is idempotent (the append by its request id).
        options: dict[str, Any] = {
            "decode_responses": True, "socket_timeout": timeout_s, "socket_connect_timeout": timeout_s,
            "retry": Retry(NoBackoff(), 1), "max_connections": pool_size + self.SPARE_CONNECTIONS,
        }
        if cluster:
            self.client: Any = RedisCluster.from_url(url, **options)
        else:
            self.client = aioredis.Redis.from_url(url, health_check_interval=30, **options)
        self._slots = asyncio.Semaphore(pool_size)
        self._fetch = self.client.register_script(_FETCH)
        self._append = self.client.register_script(_APPEND)
        # Reads and appends of concurrent requests share a pipeline per event-loop iteration; on a
        # cluster each script goes alone (its keys' slot picks the node).
        self._pipeline = None if cluster else AutoPipeline(self.client)
        self._close = self.client.register_script(_CLOSE)
        self._touch = self.client.register_script(_TOUCH)

    @asynccontextmanager
    async def _guard(self, what: str) -> AsyncIterator[None]:
        """A connection slot (bounded wait), then the call, bounded and classed."""
        try:
            async with asyncio.timeout(self.pool_timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            raise AgentError("overloaded", f"no free state-store connection within {self.pool_timeout_s:g}s "
                             f"during {what}; retry later", headers={"Retry-After": "1"}) from None
        try:
            # The socket timeout bounds each read; this bounds the whole call (connect, topology
            # refresh on a cluster, the command), so a request never hangs on the store.
            async with asyncio.timeout(2 * self.timeout_s):
                yield
        except MaxConnectionsError as exc:  # cannot happen while the semaphore holds; classed anyway
            raise AgentError("overloaded", f"state-store connection pool exhausted during {what}; retry later",
                             headers={"Retry-After": "1"}) from exc
        except (RedisError, OSError, TimeoutError) as exc:
            raise AgentError("state_store_unavailable",
                             f"state store unavailable during {what}: {type(exc).__name__}") from exc
        finally:
            self._slots.release()

    async def ping(self, timeout_s: float | None = None) -> bool:
        """True when Redis answers within ``timeout_s`` (default: the command timeout's bound);
        probes need no connection slot."""
        try:
            async with asyncio.timeout(timeout_s or 2 * self.timeout_s):
                return bool(await self.client.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """``script`` through the automatic pipeline when there is one (see ``pipelining``)."""
        if self._pipeline is not None:
            return await self._pipeline.run(script, keys, args)
        return await script(keys=keys, args=args)

    async def _read(self, conversation_id: str, start: int, what: str) -> Snapshot:
        async with self._guard(what):
            meta_flat, raw = await self._call(self._fetch, [meta_key(conversation_id), turns_key(conversation_id)],
                                              [start])
        meta = dict(zip(meta_flat[::2], meta_flat[1::2], strict=True))
        return Snapshot(bool(meta), meta, raw)  # turns are parsed when first read

    async def fetch(self, conversation_id: str) -> Snapshot:
        """Flags and the last ``window`` turns, in one round trip: constant cost at any length."""
        return await self._read(conversation_id, -self.window, "fetch")

    async def history(self, conversation_id: str) -> Snapshot:
        """Every kept turn (up to the cap), for the conversation API."""
        return await self._read(conversation_id, 0, "history")

    async def append(self, conversation_id: str, *, ts: str, user_text: str, agent_text: str,
                     low_confidence: bool, complaint: bool, escalate: str | None,
                     order: str | None, topic: str | None = None, request_id: str = "") -> AppendResult | None:
        """Append a user turn and its reply atomically; ``None`` if the conversation is closed.

        ``request_id`` (letters and digits): a second append with the same id among the latest 32
        turns returns that turn instead of adding another (the retry of a write whose answer was lost).
        """
        user = {"role": "user", "text": user_text, "ts": ts, **({"rid": request_id} if request_id else {})}
        entries = [_entry_tail(user), _entry_tail({"role": "agent", "text": agent_text, "ts": ts})]
        now_ms = int(time.time() * 1000)
        args = [0 if self.track_activity else self.ttl, self.cap, ts, *entries, int(low_confidence),
                int(complaint), escalate or "", order or "", topic or "", now_ms, request_id]
        keys = [turns_key(conversation_id), meta_key(conversation_id)]
        async with self._guard("save"):
            if not self.track_activity:
                turn, started, escalated = await self._call(self._append, keys, args)
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
        if self.cluster:  # two slots, two nodes: redis-py's cluster pipeline refuses scripts; in order
            try:
                await self._touch(keys=touch_keys, args=touch_args)
            except RedisError as exc:
                # The index lives in one slot: while its shard fails over, keep taking turns, but
                # with the TTL (not indexed, the sweep would never end the conversation; it expires).
                log.warning("activity index unavailable; conversation kept with its TTL instead",
                            extra={"error": type(exc).__name__})
                args = [self.ttl, *args[1:]]
            return await self._append(keys=keys, args=args)
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


def _entry_tail(entry: dict[str, str]) -> str:
    # The script prepends '{"turn":N,' so the number is assigned inside the atomic unit. The default
    # separators matter: the script finds a request id as '"rid": "<id>"' (text is escaped, so a
    # message cannot contain that unescaped).
    return json.dumps(entry, ensure_ascii=False)[1:]
