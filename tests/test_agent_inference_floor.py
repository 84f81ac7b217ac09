"""``AGENT_INFERENCE_FLOOR_MS``: every forward pass of n requests lasts at least n x the floor, so the
autoscaling lab can pin each agent's capacity whatever the machine's free cores."""

from __future__ import annotations

import asyncio

import pytest
from agent_helpers import run, running_agent

from agentwatch.local.processes import RedisServer
from agentwatch.telemetry import catalogue as c

pytestmark = [pytest.mark.live, pytest.mark.model]

FLOOR_MS = 40.0


def test_each_forward_pass_lasts_at_least_the_floor_per_request(redis_server: RedisServer) -> None:
    async def scenario() -> tuple[float, float]:
        async with running_agent(redis_server.url, inference_floor_ms=FLOOR_MS) as agent:
            responses = await asyncio.gather(*(agent.say(f"floor-{i}", "where is my order?") for i in range(6)))
            assert [r.status_code for r in responses] == [200] * 6
            labels = {"model": "all-MiniLM-L6-v2", "operation": "classify"}
            return agent.value(c.INFERENCE_DURATION.sum, **labels), agent.value(c.INFERENCE_BATCH_SIZE.sum)

    seconds, requests = run(scenario())
    assert requests == 6
    assert seconds >= requests * FLOOR_MS / 1000
