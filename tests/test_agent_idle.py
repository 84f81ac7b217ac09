"""Idle conversations end exactly once, whichever instances sweep, against a real redis-server.

Sweeps take an explicit ``now`` so the clock moves without sleeping; many sweepers race on one Redis
the way every agent instance does.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from agent_helpers import run

from agentwatch.agent.idle import Ended, IdleSweeper
from agentwatch.agent.state import VERSIONS_KEY, ConversationStore, activity_key, meta_key, turns_key
from agentwatch.local.processes import RedisServer

pytestmark = pytest.mark.live

TIMEOUT_S = 60.0
_ids = itertools.count()


def _store(url: str, version: str = "1.0.0", ttl: int = 300) -> ConversationStore:
    return ConversationStore(url, window=6, cap=200, ttl_seconds=ttl, track_activity=True, version=version)


def _sweeper(store: ConversationStore, ended: list[Ended]) -> IdleSweeper:
    return IdleSweeper(store, timeout_s=TIMEOUT_S, interval_s=3600, on_end=ended.append)


async def _say(store: ConversationStore, cid: str, escalate: str | None = None):
    return await store.append(cid, ts="2026-01-01T00:00:00.000Z", user_text="hi", agent_text="hello",
                              low_confidence=False, complaint=False, escalate=escalate, order=None)


def _later(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


def test_many_racing_sweepers_end_each_idle_conversation_once_and_skip_closed_ones(fresh_redis: RedisServer):
    async def scenario():
        stores = [_store(fresh_redis.url) for _ in range(6)]  # six "instances" of one version
        ids = [f"race-{next(_ids)}" for _ in range(40)]
        for i, cid in enumerate(ids):
            for _ in range(i % 3 + 1):  # 1-3 user turns
                await _say(stores[i % len(stores)], cid)
        closed = ids[:8]
        for cid in closed:
            assert (await stores[0].close(cid, "resolved", "t"))[0] == "closed"
        open_ttls = [await stores[0].client.ttl(key) for key in (meta_key(ids[-1]), turns_key(ids[-1]))]
        ended: list[Ended] = []
        sweepers = [_sweeper(store, ended) for store in stores]
        now = _later(TIMEOUT_S + 1)
        await asyncio.gather(*(s.sweep(now) for s in sweepers for _ in range(3)))  # 18 racing sweeps
        again = await asyncio.gather(*(s.sweep(_later(TIMEOUT_S * 5)) for s in sweepers))
        ended_ttls = [await stores[0].client.ttl(key) for key in (meta_key(ids[-1]), turns_key(ids[-1]))]
        outcome = (await stores[0].history(ids[-1])).meta.get("outcome")
        left = await stores[0].client.zcard(activity_key("1.0.0"))
        for store in stores:
            await store.aclose()
        return ids, closed, ended, again, open_ttls, ended_ttls, outcome, left

    ids, closed, ended, again, open_ttls, ended_ttls, outcome, left = run(scenario())
    idle = ids[len(closed):]
    assert sorted(e.conversation_id for e in ended) == sorted(idle), "each idle conversation ends exactly once"
    assert all(e.outcome == "timed_out" for e in ended) and outcome == "timed_out"
    turns = {e.conversation_id: e.user_turns for e in ended}
    assert all(turns[cid] == ids.index(cid) % 3 + 1 for cid in idle), "turn counts observed like any ending"
    assert again == [[]] * 6, "later sweeps find nothing left to count"
    assert open_ttls == [-1, -1], "an open conversation never expires: expiry cannot lose its ending"
    assert all(0 < ttl <= 300 for ttl in ended_ttls), "an ended conversation expires after the TTL"
    assert left == 0


def test_a_conversation_active_again_or_recent_is_not_ended(fresh_redis: RedisServer):
    async def scenario():
        store, ended = _store(fresh_redis.url), []
        sweeper = _sweeper(store, ended)
        await _say(store, "recent")
        early = await sweeper.sweep(_later(TIMEOUT_S / 2))
        # Active again after the sweep read its candidates: the claim script sees the new activity.
        cutoff = int(time.time() * 1000) - 1000
        raced = await sweeper._end_all(["recent"], cutoff)
        await _say(store, "escalated", escalate="user_request")
        late = await sweeper.sweep(_later(TIMEOUT_S + 1))
        await store.aclose()
        return early, raced, late

    early, raced, late = run(scenario())
    assert early == [] and raced == []
    assert sorted((e.conversation_id, e.outcome) for e in late) == [("escalated", "escalated"),
                                                                    ("recent", "timed_out")]


def test_the_version_that_served_a_conversation_ends_it_others_step_in_after_twice_the_timeout(
        fresh_redis: RedisServer):
    async def scenario():
        old, new = _store(fresh_redis.url, "1.0.0"), _store(fresh_redis.url, "2.0.0")
        ended_old: list[Ended] = []
        ended_new: list[Ended] = []
        await _say(old, "served-by-old")
        await _say(old, "moved-to-new")
        await _say(new, "moved-to-new")  # its last activity is on 2.0.0 now
        by_new_early = await _sweeper(new, ended_new).sweep(_later(TIMEOUT_S * 1.5))
        by_old = await _sweeper(old, ended_old).sweep(_later(TIMEOUT_S * 1.5))
        await _say(old, "orphan")  # 1.0.0 is then gone: 2.0.0 ends its conversation, later
        by_new_late = await _sweeper(new, ended_new).sweep(_later(TIMEOUT_S * 2.5))
        versions = await old.client.smembers(VERSIONS_KEY)
        await old.aclose()
        await new.aclose()
        return by_new_early, by_old, by_new_late, versions

    by_new_early, by_old, by_new_late, versions = run(scenario())
    assert [e.conversation_id for e in by_new_early] == ["moved-to-new"], "2.0.0 leaves 1.0.0's own to it"
    assert [e.conversation_id for e in by_old] == ["served-by-old"], "1.0.0 does not end what 2.0.0 served last"
    assert [e.conversation_id for e in by_new_late] == ["orphan"]
    assert versions == set(), "a version whose conversations all ended is forgotten"


def test_appends_survive_a_script_flush_without_duplicating_a_turn(fresh_redis: RedisServer):
    """Scripts vanish on a Redis restart; the one-round-trip path reloads them and re-runs only what failed."""
    async def scenario():
        store = _store(fresh_redis.url)
        first = await _say(store, "flushed")
        await store.client.script_flush()
        second = await _say(store, "flushed")
        history = await store.history("flushed")
        indexed = await store.client.zscore(activity_key("1.0.0"), "flushed")
        await store.aclose()
        return first, second, history, indexed

    first, second, history, indexed = run(scenario())
    assert (first.turn, second.turn) == (1, 2)
    assert [t["turn"] for t in history.turns] == [1, 1, 2, 2] and indexed is not None
