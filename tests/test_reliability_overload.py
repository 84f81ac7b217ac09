"""Ten times the sustainable rate against one real agent process: it keeps answering.

The 80 % target is a measurement, not a test: :mod:`agentwatch.bench.overload`
(``python -m agentwatch.bench.overload``, ``make reliability``) prints the ratio over several rounds.
Here one round must show the behaviour: every answer a 200 or a 429 (no 5xx, no other error
class), the agent still answering (no collapse: at least a third of the sustainable throughput,
where the agent before admission control kept 2 %), the admitted requests' p99 under the deadline's
bucket, memory flat and the first request after the load served. Up to three rounds are run until
one holds it all: the machine is shared, and a neighbour's burst in one phase of a round moves it
more than anything the agent does.
"""

from __future__ import annotations

import pytest

from agentwatch.bench.agents import PinnedAgent, pin_process
from agentwatch.bench.harness import Pinning
from agentwatch.bench.overload import measure_round
from agentwatch.local.processes import RedisServer

pytestmark = [pytest.mark.live, pytest.mark.model, pytest.mark.timeout(300)]
#: Answered under overload / sustainable below which the agent has collapsed (it was 0.02).
COLLAPSE = 1 / 3


def problems(one) -> list[str]:
    """What this round got wrong (empty: it holds)."""
    found = []
    if one.offered_rps < 7 * one.sustainable_rps:
        found.append(f"offered only {one.offered_rps / one.sustainable_rps:.1f}x the sustainable rate")
    if not set(one.statuses) <= {200, 429} or not one.error_classes.keys() <= {"overloaded"}:
        found.append(f"answers other than 200 and 429: {one.statuses}, {one.error_classes}")
    if one.ratio < COLLAPSE:
        found.append(f"collapsed: kept {one.ratio:.2f} of the sustainable throughput")
    if not one.admitted_p99_s <= 2.5:
        found.append(f"admitted p99 {one.admitted_p99_s:.2f}s")
    if one.rss_peak - one.rss_before >= 100 * 2**20:
        found.append(f"RSS grew {(one.rss_peak - one.rss_before) >> 20} MiB")
    if one.after_status != 200:
        found.append(f"the first request after the load got {one.after_status}")
    return found


def test_ten_times_the_sustainable_rate_is_shed_with_429s_and_the_agent_keeps_answering():
    pinning = Pinning.detect()
    report = []
    with RedisServer() as redis_server, PinnedAgent(redis_server.url, pinning) as agent:
        pin_process(redis_server.process.pid, pinning.load)
        for attempt in range(3):
            one = measure_round(agent.url, agent.pid, seconds=15, sustain_seconds=6, factor=10, pinning=pinning,
                                tag=f"t{attempt}")
            found = problems(one)
            report.append((round(one.sustainable_rps), round(one.offered_rps), round(one.ratio, 3), found))
            if not found:
                break
    assert not report[-1][3], f"(sustainable/s, offered/s, ratio, problems) per round: {report}"
