"""Ten times the sustainable rate against one real agent process: it keeps answering.

The measurement is :mod:`agentwatch.bench.overload` (``python -m agentwatch.bench.overload``
prints the ratio over several rounds). Here one round — two if the first misses the throughput
bar, because this machine is shared and a neighbour's burst can land in either phase — must keep
at least 80 % of the sustainable throughput measured just before it, with every answer a 200 or a
429, the admitted requests' p99 under the deadline's bucket, memory flat and the first request
after the load served.
"""

from __future__ import annotations

import pytest

from agentwatch.bench.agents import PinnedAgent, pin_process
from agentwatch.bench.harness import Pinning
from agentwatch.bench.overload import TARGET, measure_round
from agentwatch.local.processes import RedisServer

pytestmark = [pytest.mark.live, pytest.mark.model]


def test_ten_times_the_sustainable_rate_keeps_80_percent_of_the_throughput_and_no_5xx():
    pinning = Pinning.detect()
    rounds = []
    with RedisServer() as redis_server, PinnedAgent(redis_server.url, pinning) as agent:
        pin_process(redis_server.process.pid, pinning.load)
        for attempt in range(2):
            one = measure_round(agent.url, agent.pid, seconds=15, sustain_seconds=6, factor=10, pinning=pinning,
                                tag=f"t{attempt}")
            rounds.append(one)
            if one.ratio >= TARGET:
                break
    summary = [(round(r.sustainable_rps), round(r.offered_rps), round(r.ratio, 3), r.statuses, r.error_classes)
               for r in rounds]
    for one in rounds:
        assert one.offered_rps >= 7 * one.sustainable_rps, f"the load must be about ten times: {summary}"
        assert set(one.statuses) <= {200, 429}, f"only answers and sheds, no 5xx or socket error: {summary}"
        assert one.error_classes.keys() <= {"overloaded"}, summary
        assert one.admitted_p99_s <= 2.5, f"admitted requests finish near the 2 s deadline at worst: {summary}"
        assert one.rss_peak - one.rss_before < 100 * 2**20, "memory stays bounded under overload"
        assert one.after_status == 200, f"the first request after the load is served: {summary}"
    assert max(r.ratio for r in rounds) >= TARGET, f"throughput kept under 10x load: {summary}"
