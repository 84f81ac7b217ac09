"""The served agent under mixed load: every exemplar on /metrics names a trace the OTLP receiver got,
every failed request's trace is exported whole, ordinary ones only at the configured share."""

from __future__ import annotations

import asyncio
import collections
import re

import httpx
import pytest

from agentwatch.bench.workload import MESSAGES, message_path
from agentwatch.local.otlp_receiver import OtlpReceiver
from agentwatch.local.processes import AgentProcess, wait_until

pytestmark = [pytest.mark.live, pytest.mark.model]

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
EXEMPLAR = re.compile(r'# \{[^}]*trace_id="([0-9a-f]{32})"[^}]*\}')
KEEP_RATIO = 0.1
SERVER = 2  # SPAN_KIND_SERVER


async def _mixed_load(url: str) -> collections.Counter[int]:
    """Messages (a share fail with injected 500s), unknown conversations (404), bad bodies (400)."""
    requests: list[tuple[str, str, dict | None]] = [
        ("POST", message_path(f"mix-{i % 40}"), {"text": MESSAGES[i % len(MESSAGES)]}) for i in range(160)]
    requests += [("GET", f"/v1/conversations/nobody-{i}", None) for i in range(15)]
    requests += [("POST", message_path(f"bad-{i}"), {"text": ""}) for i in range(10)]
    counts: collections.Counter[int] = collections.Counter()
    semaphore = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def one(method: str, path: str, body: dict | None) -> None:
            async with semaphore:
                counts[(await client.request(method, path, json=body)).status_code] += 1

        await asyncio.gather(*(one(*r) for r in requests))
    return counts


def test_exemplars_name_only_exported_traces_and_every_failure_is_kept(redis_server):
    with OtlpReceiver() as receiver:
        env = {"REDIS_URL": redis_server.url, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
               "OTEL_BSP_SCHEDULE_DELAY": "100", "AGENT_FAULT_ERROR_RATIO": "0.2",
               "AGENTWATCH_TRACES_KEEP_RATIO": str(KEEP_RATIO),
               "AGENTWATCH_TRACES_SLOW_SECONDS": "30"}  # nothing counts as slow: the share is the ratio's
        with AgentProcess(env=env) as agent:
            counts = asyncio.run(_mixed_load(agent.url))
            metrics = httpx.get(f"{agent.url}/metrics", headers={"accept": OPENMETRICS}, timeout=10).text

            def settled() -> bool:
                before = receiver.snapshot()
                asyncio.run(asyncio.sleep(0.5))
                return receiver.snapshot() == before

            wait_until(settled, 30, "the agent's span export to settle")
        spans = list(receiver.spans)
    exemplars = {m.group(1) for line in metrics.splitlines() if (m := EXEMPLAR.search(line))}
    exported = {s["trace_id"] for s in spans}
    assert counts[500] > 0 and counts[200] > 0 and counts[404] == 15 and counts[400] == 10, counts
    assert exemplars, "kept traces leave exemplars"
    assert exemplars <= exported, f"{len(exemplars - exported)} exemplars name traces that were never exported"
    servers = [s for s in spans if s["kind"] == SERVER]
    by_code = collections.Counter(s["attributes"].get("http.response.status_code") for s in servers)
    assert by_code[500] == counts[500], "every failed request's trace is exported"
    assert by_code[200] < 0.4 * counts[200], f"ordinary traces kept at about {KEEP_RATIO:.0%}: {by_code}"
    for server in servers:
        if server["attributes"].get("http.response.status_code") == 200:
            children = sorted(s["name"] for s in spans if s["parent_span_id"] == server["span_id"])
            assert children == ["inference", "state.fetch", "state.save"], children
