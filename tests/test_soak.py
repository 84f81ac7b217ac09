"""One minute of steady load on a real agent: memory, file descriptors, Redis and latency stay flat.

The long version is ``make soak`` (10 minutes; ``SOAK_SECONDS`` to change it), which prints the
same windows; see :mod:`agentwatch.bench.soak`.
"""

from __future__ import annotations

import pytest

from agentwatch.bench.soak import PER_CONVERSATION, run_soak

pytestmark = [pytest.mark.live, pytest.mark.model]

RATE, TTL = 30.0, 15


def test_a_minute_of_steady_load_leaks_nothing() -> None:
    windows = run_soak(seconds=42, rate=RATE, window_s=8, ttl_s=TTL)
    start, end = windows[1], windows[-1]  # windows[0] warms up allocator pools and lazy imports
    table = [(round(w.t), w.rss >> 20, w.fds, w.redis_keys, w.errors, round(w.p99_s * 1000)) for w in windows]
    failed = sum(n for w in windows for code, n in w.statuses.items() if code != 200 and code != 429)
    shed = sum(w.statuses.get(429, 0) for w in windows)
    assert failed == 0, f"no 5xx, no connection error: {table}"
    assert shed <= 0.05 * sum(w.requests for w in windows), f"429s only while a neighbour starves the CPU: {table}"
    assert sum(w.requests for w in windows) >= 0.8 * RATE * 32, f"the load was sent: {table}"
    assert end.rss - start.rss < 32 * 2**20, f"RSS flat (t, MiB, fds, keys, errors, p99 ms): {table}"
    assert end.fds <= start.fds + 8, f"no descriptor leak: {table}"
    live = 2 * RATE / PER_CONVERSATION * TTL  # two keys per conversation started within one TTL
    assert end.redis_keys <= 1.5 * live, f"conversations expire, Redis holds only live ones: {table}"
    assert end.p99_s <= 2 * start.p99_s + 0.5, f"latency does not degrade: {table}"
