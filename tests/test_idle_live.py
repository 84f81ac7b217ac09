"""Every conversation is counted once: two real agent processes sweep idle conversations from one
Redis; the ones left idle end once as ``timed_out``, the ones closed with ``/close`` are not counted
again, and the turns of each are observed. The TTL (1 s) is shorter than the idle timeout (2 s): key
expiry must not lose an ending."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agentwatch.local.processes import AgentProcess, RedisServer, wait_until
from agentwatch.telemetry import catalogue as c

pytestmark = [pytest.mark.live, pytest.mark.model, pytest.mark.timeout(240)]

IDLE_S = 2.0
ENV = {"AGENT_IDLE_TIMEOUT_SECONDS": str(IDLE_S), "AGENT_SWEEP_INTERVAL_SECONDS": "0.2",
       "AGENT_CONVERSATION_TTL_SECONDS": "1"}


@pytest.fixture(scope="module")
def agents() -> Iterator[list[AgentProcess]]:
    with RedisServer() as redis:
        processes = [AgentProcess({"REDIS_URL": redis.url, **ENV}) for _ in range(2)]
        try:
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda p: p.start(), processes))
            yield processes
        finally:
            for process in processes:
                process.close()


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _total(agents: list[AgentProcess], name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return sum(_samples(a.url).get(key, 0.0) for a in agents)


def test_idle_conversations_end_once_across_two_instances_and_closed_ones_are_not_counted_again(
        agents: list[AgentProcess]) -> None:
    ended = {o: _total(agents, c.CONVERSATIONS_ENDED.name, outcome=o) for o in c.OUTCOMES}
    turns_before = (_total(agents, c.CONVERSATION_TURNS.count), _total(agents, c.CONVERSATION_TURNS.sum))
    turn = itertools.count()
    plan = {f"idle-{i}": i % 3 + 1 for i in range(6)} | {f"closed-{i}": i % 2 + 1 for i in range(4)}
    with httpx.Client(timeout=30) as client:
        for cid, messages in plan.items():
            for _ in range(messages):  # consecutive turns on alternating instances
                url = agents[next(turn) % 2].url
                response = client.post(f"{url}/v1/conversations/{cid}/messages",
                                       json={"text": "Where is my order #48213?"})
                assert response.status_code == 200, response.text
        for i, cid in enumerate(c for c in plan if c.startswith("closed-")):
            closed = client.post(f"{agents[i % 2].url}/v1/conversations/{cid}/close",
                                 json={"outcome": "resolved" if i % 2 else "abandoned"})
            assert closed.status_code == 200 and closed.json()["outcome"] in ("resolved", "abandoned"), closed.text

    def timed_out() -> float:
        return _total(agents, c.CONVERSATIONS_ENDED.name, outcome="timed_out") - ended["timed_out"]

    wait_until(lambda: timed_out() >= 6, 30, "six idle conversations to time out", interval=0.2)
    time.sleep(IDLE_S)  # ten more sweeps on each instance: nothing may be counted twice
    after = {o: _total(agents, c.CONVERSATIONS_ENDED.name, outcome=o) - ended[o] for o in c.OUTCOMES}
    assert after == {"resolved": 2, "abandoned": 2, "escalated": 0, "timed_out": 6}
    count = _total(agents, c.CONVERSATION_TURNS.count) - turns_before[0]
    total_turns = _total(agents, c.CONVERSATION_TURNS.sum) - turns_before[1]
    assert (count, total_turns) == (len(plan), sum(plan.values())), "each ending observes its turns once"
