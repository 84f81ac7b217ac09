"""Automatic pipelining against a real Redis: concurrent script calls share one pipeline, each gets
its own reply or error, scripts unknown to the server are loaded, a dead server fails every call."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from agentwatch.agent.pipelining import AutoPipeline
from agentwatch.local.processes import RedisServer

pytestmark = pytest.mark.live

INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
FAIL_ON_NEGATIVE = "if tonumber(ARGV[1]) < 0 then return redis.error_reply('negative') end return ARGV[1]"


def test_calls_of_one_iteration_share_a_pipeline_and_get_their_own_replies(redis_server):
    async def scenario():
        client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
        await client.script_flush()  # the scripts are unknown to the server: the pipeline loads them
        pipe = AutoPipeline(client)
        incr, check = client.register_script(INCR), client.register_script(FAIL_ON_NEGATIVE)
        replies = await asyncio.gather(*(pipe.run(incr, [f"pipe-{i % 3}"], [1]) for i in range(30)),
                                       pipe.run(check, [], [5]), pipe.run(check, [], [-1]),
                                       return_exceptions=True)
        values = [await client.get(f"pipe-{i}") for i in range(3)]
        await client.delete(*(f"pipe-{i}" for i in range(3)))
        await client.aclose()
        return pipe, replies, values

    pipe, replies, values = asyncio.run(scenario())
    assert values == ["10", "10", "10"]
    assert sorted(replies[:30]) == sorted(list(range(1, 11)) * 3)
    assert replies[30] == "5"
    assert isinstance(replies[31], ResponseError) and "negative" in str(replies[31])
    assert (pipe.pipelines, pipe.calls) == (1, 32)


def test_calls_made_in_turn_each_go_alone():
    async def scenario(url: str):
        client = aioredis.Redis.from_url(url, decode_responses=True)
        pipe = AutoPipeline(client)
        incr = client.register_script(INCR)
        replies = [await pipe.run(incr, ["alone"], [2]) for _ in range(3)]
        await client.aclose()
        return pipe, replies

    with RedisServer() as server:
        pipe, replies = asyncio.run(scenario(server.url))
    assert replies == [2, 4, 6]
    assert (pipe.pipelines, pipe.calls) == (3, 3)


def test_a_dead_server_fails_every_call_of_the_pipeline():
    server = RedisServer().start()

    async def scenario():
        client = aioredis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
        pipe = AutoPipeline(client)
        incr = client.register_script(INCR)
        await pipe.run(incr, ["warm"], [1])
        server.stop()
        replies = await asyncio.gather(*(pipe.run(incr, ["k"], [1]) for _ in range(4)), return_exceptions=True)
        await client.aclose()
        return replies

    try:
        replies = asyncio.run(scenario())
    finally:
        server.close()
    assert all(isinstance(r, (RedisConnectionError, OSError)) for r in replies), replies
