"""About a minute of steady Locust load on a real agent: memory, descriptors, Redis and latency flat.

The long version is ``make soak`` (10 minutes; ``SOAK_SECONDS`` to change it), which prints the
same windows; see :mod:`agentwatch.bench.soak`.
"""

from __future__ import annotations

import statistics

import pytest

from agentwatch.bench.soak import run_soak

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
