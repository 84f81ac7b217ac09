"""Nothing acknowledged is lost: concurrent writers, a Redis crash, an agent crash, a graceful stop.

Real processes only: one redis-server with the AOF persistence the README promises
(``appendfsync everysec``) and agent processes on loopback. Each test drives eight writers and
then checks, turn by turn, that every acknowledged turn is stored exactly once, in order
(:mod:`reliability_helpers`). The figures (error windows, drain timing) are printed for the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from reliability_helpers import WriteLog, history_getter, verify, write

from agentwatch.bench.harness import start_all
from agentwatch.local.processes import AgentProcess, RedisServer

pytestmark = [pytest.mark.live, pytest.mark.model]

#: Long histories: the checks read every turn back (the default keeps 100 user turns).
ENV = {"AGENT_HISTORY_MAX": "20000", "AGENTWATCH_STRICT_LABELS": "true"}


class Stack:
    def __init__(self, redis: RedisServer, a: AgentProcess, b: AgentProcess, c: AgentProcess) -> None:
        self.redis, self.a, self.b, self.c = redis, a, b, c


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """One Redis (AOF everysec), agents A and B sharing it, and C (short drain) for the stop test."""
    with RedisServer(appendfsync="everysec") as redis, contextlib.ExitStack() as stack:
        env = {"REDIS_URL": redis.url, **ENV}
        agents = start_all(stack, [AgentProcess(env=env), AgentProcess(env=env),
                                   AgentProcess(env={**env, "AGENT_DRAIN_SECONDS": "2",
                                                     "AGENT_SHUTDOWN_TIMEOUT_SECONDS": "10"})])
        yield Stack(redis, *agents)


def conversations(prefix: str, n: int = 4) -> list[str]:
    return [f"{prefix}-{i}-{time.monotonic_ns()}" for i in range(n)]


def test_two_agents_and_eight_writers_on_the_same_conversations_lose_no_turn(stack: Stack) -> None:
    ids = conversations("race")
    log = asyncio.run(write([stack.a.url, stack.b.url], ids, writers=8, count=320))
    assert log.statuses() == {(200, None): 320}
    assert verify(log, history_getter(stack.a.url)) == []
    assert verify(log, history_getter(stack.b.url)) == []
    assert sum(len(v) for v in log.acknowledged().values()) == 320


def test_a_redis_crash_under_load_gets_quick_503s_and_loses_no_acknowledged_turn(stack: Stack) -> None:
    ids = conversations("outage")
    marks: dict[str, float] = {}

    async def scenario() -> WriteLog:
        log, stop = WriteLog(), asyncio.Event()
        load = asyncio.create_task(write([stack.a.url], ids, writers=8, stop=stop, log=log, pace_s=0.02))
        await asyncio.sleep(2)
        marks["kill"] = time.monotonic()
        stack.redis.kill()  # kill -9: no shutdown, no final fsync
        await asyncio.sleep(3)
        marks["restart"] = time.monotonic()
        await asyncio.to_thread(stack.redis.start)  # same port, same directory: the AOF is replayed
        marks["up"] = time.monotonic()
        await asyncio.sleep(4)
        stop.set()
        await load
        return log

    log = asyncio.run(scenario())
    during = [o for o in log.outcomes if o.sent > marks["kill"] + 0.05 and o.answered < marks["restart"]]
    assert during, "requests were sent during the outage"
    assert {(o.status, o.error_class) for o in during} == {(503, "state_store_unavailable")}
    slowest = max(o.seconds for o in during)
    assert slowest < 2.5, f"each outage answer is quick (bounded by the Redis timeout): {slowest:.2f}s"
    first_ok = min((o for o in log.outcomes if o.status == 200 and o.sent > marks["up"]),
                   key=lambda o: o.answered)
    recovery = first_ok.answered - marks["up"]
    assert recovery < 5, f"serving again within 5 s of Redis returning, without a restart: {recovery:.2f}s"
    assert not [o for o in log.outcomes if o.status >= 500 and o.error_class != "state_store_unavailable"]
    assert verify(log, history_getter(stack.a.url)) == [], "every turn acknowledged before the kill is kept"
    errors = [o for o in log.outcomes if o.status != 200]
    print(f"\nredis outage: killed for {marks['up'] - marks['kill']:.2f}s; {len(errors)} x 503 "
          f"state_store_unavailable, slowest {slowest * 1000:.0f} ms; error window "
          f"{max(o.answered for o in errors) - min(o.sent for o in errors):.2f}s; first 200 "
          f"{recovery:.2f}s after Redis was back; {len(log.acknowledged())} conversations, "
          f"{sum(len(v) for v in log.acknowledged().values())} acknowledged turns, none lost")


def test_the_other_agent_serves_the_same_conversations_when_one_is_killed(stack: Stack) -> None:
    ids = conversations("loss")
    marks: dict[str, float] = {}

    async def scenario() -> WriteLog:
        log, stop = WriteLog(), asyncio.Event()
        load = asyncio.create_task(write([stack.a.url, stack.b.url], ids, writers=8, stop=stop, log=log,
                                         pace_s=0.02))
        await asyncio.sleep(2)
        marks["kill"] = time.monotonic()
        assert stack.a.process is not None
        os.killpg(stack.a.process.pid, signal.SIGKILL)
        await asyncio.sleep(3)
        stop.set()
        await load
        return log

    log = asyncio.run(scenario())
    after = [o for o in log.outcomes if o.sent > marks["kill"] + 0.5]
    assert after and {o.status for o in after} == {200}, "B answers every conversation once A is gone"
    assert all(o.status in (200, 0) for o in log.outcomes), ("A's loss shows as connection errors only",
                                                             log.statuses())
    assert verify(log, history_getter(stack.b.url)) == [], "B holds the full history, A's turns included"
    cut = [o for o in log.outcomes if o.status == 0]
    print(f"\ninstance loss: {len(cut)} requests cut by the SIGKILL, "
          f"{sum(len(v) for v in log.acknowledged().values())} acknowledged turns all on B")


def test_sigterm_drains_readiness_first_finishes_in_flight_work_and_exits_within_the_grace(stack: Stack) -> None:
    agent = stack.c
    assert agent.process is not None
    ids = conversations("drain")
    marks: dict[str, float] = {}
    unready: list[tuple[float, int, str]] = []

    def watch_readiness(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                response = httpx.get(f"{agent.url}/readyz", timeout=1)
                unready.append((time.monotonic(), response.status_code,
                                (response.json().get("error") or {}).get("class", "")))
            except httpx.TransportError:
                return
            time.sleep(0.05)

    async def scenario() -> WriteLog:
        log, stop = WriteLog(), asyncio.Event()
        load = asyncio.create_task(write([agent.url], ids, writers=8, stop=stop, log=log, pace_s=0.01))
        await asyncio.sleep(1.5)
        watcher_stop = threading.Event()
        watcher = threading.Thread(target=watch_readiness, args=(watcher_stop,), daemon=True)
        marks["term"] = time.monotonic()
        os.kill(agent.process.pid, signal.SIGTERM)
        watcher.start()
        code = await asyncio.to_thread(agent.process.wait, 30)
        marks["exit"] = time.monotonic()
        marks["code"] = code
        stop.set()
        await load
        watcher_stop.set()
        return log

    log = asyncio.run(scenario())
    failing = [t for t, status, _ in unready if status == 503]
    assert failing, "readiness failed during the drain"
    assert {cls for _, status, cls in unready if status == 503} == {"shutting_down"}
    readiness_after = failing[0] - marks["term"]
    assert readiness_after < 1.0, f"readiness fails at once: {readiness_after:.2f}s"
    served_in_drain = [o for o in log.outcomes if marks["term"] < o.sent < marks["term"] + 1.5]
    assert served_in_drain and {o.status for o in served_in_drain} == {200}, "the drain keeps serving"
    assert all(o.status in (200, 0) for o in log.outcomes), "no 5xx: in-flight work finishes, then refusals"
    refused = [o.sent for o in log.outcomes if o.status == 0]
    exit_after = marks["exit"] - marks["term"]
    assert marks["code"] == 0, agent.output()
    assert exit_after < 2 + 10, f"exit within drain + shutdown timeout: {exit_after:.2f}s"
    assert verify(log, history_getter(stack.b.url)) == [], "no acknowledged turn lost"
    print(f"\ngraceful shutdown: /readyz 503 {readiness_after * 1000:.0f} ms after SIGTERM; listener closed "
          f"{(min(refused) - marks['term']) if refused else float('nan'):.2f}s after; exit "
          f"{exit_after:.2f}s after (drain 2 s); {len(served_in_drain)} requests served during the drain")
