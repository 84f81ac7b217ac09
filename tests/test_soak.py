"""About a minute of steady Locust load on a real agent: memory, descriptors, Redis and latency flat;
and the Python heap flat under tracemalloc.

The long version is ``make soak`` (10 minutes; ``SOAK_SECONDS`` to change it), which prints the
same windows; see :mod:`agentwatch.bench.soak`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import statistics
import tracemalloc

import httpx
import pytest
from agent_helpers import shared_model
from prometheus_client import CollectorRegistry

from agentwatch.agent.app import create_app
from agentwatch.agent.settings import AgentSettings
from agentwatch.bench.soak import run_soak
from agentwatch.bench.workload import MESSAGES
from agentwatch.telemetry import Telemetry, TelemetrySettings

pytestmark = [pytest.mark.live, pytest.mark.model, pytest.mark.timeout(300)]


def test_a_minute_of_steady_load_leaks_nothing() -> None:
    # Conversations end after 5 s of silence and expire 5 s later: Redis is at its steady state by
    # the middle of the run, so the end must not hold more than the middle.
    windows, summary = run_soak(seconds=44, users=40, window_s=8, ttl_s=5, idle_s=5)
    start, middle, end = windows[1], windows[len(windows) // 2], windows[-1]
    table = [(round(w.t), w.rss >> 20, w.fds, w.redis_keys, w.statuses, round(w.p99_s * 1000)) for w in windows]
    assert summary.messages > 200, f"the load was sent: {table}"
    assert not [code for w in windows for code in w.statuses if code >= 500], f"no 5xx: {table}"
    shed = sum(w.statuses.get(429, 0) for w in windows)
    assert shed <= 0.05 * sum(w.requests for w in windows), f"429s only while a neighbour starves the CPU: {table}"
    assert end.rss - start.rss < 32 * 2**20, f"RSS flat (t, MiB, fds, keys, statuses, p99 ms): {table}"
    assert end.fds <= start.fds + 8, f"no descriptor leak: {table}"
    assert end.redis_keys <= 1.5 * middle.redis_keys + 20, f"conversations end and expire: {table}"
    # Latency trend, not one window: a neighbour's burst can spike any single window's p99.
    half = len(windows[1:]) // 2
    early = statistics.median(w.p99_s for w in windows[1:1 + half])
    late = statistics.median(w.p99_s for w in windows[1 + half:])
    assert late <= 2 * early + 0.5, f"latency does not degrade: {table}"


def test_the_python_heap_stays_flat_across_thousands_of_messages(redis_server) -> None:
    """tracemalloc over the real agent app in-process (real model, real Redis): after a warm-up,
    another 1 500 messages (new conversations, some closed, scrapes) leave the Python heap where it
    was. RSS alone cannot tell a leak from the allocator keeping freed native memory (torch's
    per-batch tensors of varying length); the Python heap can."""
    async def run() -> list[int]:
        settings = AgentSettings(redis_url=redis_server.url, request_timeout_ms=30_000, idle_timeout_seconds=2)
        # Tail sampling keeps no ordinary trace: the bounded set of recently kept ids stays empty.
        tel = Telemetry(TelemetrySettings(export_traces=False, keep_ratio=0.0), registry=CollectorRegistry())
        app = create_app(settings, tel, model=shared_model())
        rng = random.Random(7)
        traced: list[int] = []
        async with app.router.lifespan_context(app):
            await app.state.service.wait_ready()
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent") as client:
                async def drive(first: int, n: int) -> None:
                    gate = asyncio.Semaphore(16)

                    async def one(i: int) -> None:
                        async with gate:
                            cid = f"heap-{first + i // 4}"
                            response = await client.post(f"/v1/conversations/{cid}/messages",
                                                         json={"text": rng.choice(MESSAGES)})
                            assert response.status_code == 200, response.text
                            if i % 8 == 3:
                                await client.post(f"/v1/conversations/{cid}/close", json={"outcome": "resolved"})
                            if i % 100 == 0:
                                assert (await client.get("/metrics")).status_code == 200
                    await asyncio.gather(*(one(i) for i in range(n)))

                await drive(0, 1500)  # warm-up: caches, pools, label children, lazily built paths
                tracemalloc.start()
                try:
                    for window in (1, 2):
                        await drive(100_000 * window, 1500)
                        gc.collect()
                        traced.append(tracemalloc.get_traced_memory()[0])
                finally:
                    tracemalloc.stop()
        tel.shutdown()
        return traced

    # Records at INFO (httpx logs every request) would pile up in pytest's own log capture, inside
    # the measured heap; the agent writes its logs out and keeps none.
    logging.disable(logging.INFO)
    try:
        after_first, after_second = asyncio.run(run())
    finally:
        logging.disable(logging.NOTSET)
    print(f"Python heap after two windows of 1500 messages: {after_first} -> {after_second} bytes")
    # A leak of 70 bytes a message would show as 100 KiB over the second window.
    assert after_second - after_first < 100 * 1024, f"Python heap {after_first} -> {after_second} bytes"
