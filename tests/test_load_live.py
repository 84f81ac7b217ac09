"""The locustfile against two real agents sharing one real Redis, with what they export and expose.

One module-scoped run: redis-server, two agent processes (instance B injects 10 % 5xx), an OTLP/HTTP
receiver saving every span as OTLP JSON lines, and a Prometheus scraping both agents every second.
Locust runs headless for a few seconds against both (each turn picks an instance). Then:

- the summary's figures: throughput, no acknowledged turn missing from the history (checked here
  again, independently), the escalation path exercised, every turn free to land on either agent;
- the waterfall of the slowest and of a failed trace holds exactly the spans the receiver got;
- ``agentwatch recommend --prometheus`` on that Prometheus reports the agents' real peak RSS.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agentwatch.bench.agents import rss_bytes
from agentwatch.bench.harness import start_all
from agentwatch.load.ledger import Ledger
from agentwatch.load.runner import run_load
from agentwatch.load.summary import LoadSummary
from agentwatch.local.otlp_receiver import OtlpReceiver
from agentwatch.local.processes import AgentProcess, PrometheusServer, RedisServer, prometheus_config, wait_until
from agentwatch.prometheus_api import PrometheusAPI
from agentwatch.telemetry import catalogue as c
from agentwatch.traces.otlp_json import read_spans
from agentwatch.traces.waterfall import draw_waterfall, failed_trace, layout, slowest_trace, terminal_tree

pytestmark = [pytest.mark.live, pytest.mark.model, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
SECONDS = float(os.environ.get("AGENTWATCH_LOAD_TEST_SECONDS", "8"))


@dataclass
class Session:
    agents: list[AgentProcess]
    receiver: OtlpReceiver
    spans_file: Path
    prometheus: PrometheusServer
    summary: LoadSummary
    out: Path
    peak_rss: float


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    work = tmp_path_factory.mktemp("load-live")
    spans_file = work / "spans.jsonl"
    with RedisServer() as redis, OtlpReceiver(json_lines=spans_file) as receiver:
        env = {"REDIS_URL": redis.url, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
               "OTEL_BSP_SCHEDULE_DELAY": "200", "AGENT_TORCH_THREADS": "1"}
        with contextlib.ExitStack() as stack:
            faulty = {**env, "AGENT_FAULT_ERROR_RATIO": "0.1"}
            agent_a, agent_b = start_all(stack, [AgentProcess(env), AgentProcess(faulty)])
            targets = [f"127.0.0.1:{a.port}" for a in (agent_a, agent_b)]
            with PrometheusServer(prometheus_config(targets)) as prometheus:
                summary = run_load([agent_a.url, agent_b.url], "steady", SECONDS, users=22, think=(0.2, 0.6),
                                   seed=5, out_dir=work / "load")
                peak = max(rss_bytes(a.process.pid) for a in (agent_a, agent_b) if a.process)
                time.sleep(2.5)  # the last spans (exported every 0.2 s) and two more scrapes
                yield Session([agent_a, agent_b], receiver, spans_file, prometheus, summary, work, peak)


def test_the_summary_reports_throughput_latency_and_no_lost_turn(session: Session) -> None:
    s = session.summary
    assert s.messages > 20 and s.messages_per_second > 1 and s.throughput >= s.messages_per_second
    lat = s.latency["messages"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]  # type: ignore[operator]
    assert s.users_peak == 22
    assert s.turns_acknowledged > 20 and s.turns_lost == 0
    check = s.turns_verification
    assert check["conversations"] > 0 and check["unreadable"] == 0 and check["missing_conversations"] == 0
    for name in ("stats", "history", "failures", "ledger"):
        assert Path(s.files[name]).stat().st_size > 0, name


def test_every_acknowledged_turn_is_in_the_history_read_independently(session: Session) -> None:
    ledger = Ledger.load(session.summary.files["ledger"])
    acked = [r for r in ledger.conversations if r.acked]
    assert acked
    with httpx.Client(timeout=10) as client:
        for i, record in enumerate(acked):
            agent = session.agents[i % 2]  # read from either instance: the state is in Redis
            body = client.get(f"{agent.url}/v1/conversations/{record.id}").json()
            user_turns = {t["turn"] for t in body["turns"] if t["role"] == "user"}
            assert set(record.acked) <= user_turns, (record.id, record.acked, user_turns)


def test_the_escalation_path_and_instance_hopping_are_exercised(session: Session) -> None:
    s = session.summary
    assert s.conversations["escalated"] > 0 and s.outcomes.get("escalated", 0) > 0
    assert s.outcome_mismatches == 0  # an escalated conversation closed as resolved is recorded escalated
    assert s.conversations["across_instances"] > 0
    assert s.errors_by_class.get("injected_fault", 0) > 0  # instance B's 10 % 5xx, seen by the customers
    assert set(s.error_ratio_by_class) <= set(c.ERROR_CLASSES) | {"connection_error", "timeout"}


def test_the_waterfalls_hold_exactly_the_spans_the_receiver_got(session: Session, tmp_path: Path) -> None:
    # The agents still export (the other tests' reads make spans): hold the receiver's lock so the file,
    # the count and the kept spans are one consistent snapshot, never a line being written.
    with session.receiver.lock:
        spans = read_spans(session.spans_file)
        count, kept = session.receiver.span_count, list(session.receiver.spans)
    assert len(spans) == count > 0
    received = {}
    for span in kept:
        received.setdefault(span["trace_id"], set()).add((span["span_id"], span["parent_span_id"], span["name"]))
    slowest, failed = slowest_trace(spans), failed_trace(spans)
    assert slowest is not None and failed is not None
    for trace_id in (slowest, failed):
        rows = layout(spans, trace_id)
        drawn = {(s.span_id, s.parent_span_id, s.name) for s, _ in rows}
        assert drawn == received[trace_id]
        assert {s.parent_span_id for s, depth in rows if depth} <= {s.span_id for s, _ in rows}
        png = draw_waterfall(rows, tmp_path / f"{trace_id}.png")
        assert png.stat().st_size > 10_000
        from rich.console import Console

        console = Console(record=True, width=160)
        console.print(terminal_tree(rows))
        text = console.export_text()
        assert all(s.name in text for s, _ in rows)
    assert any(s.failed for s, _ in layout(spans, failed))
    root = layout(spans, slowest)[0][0]
    others = [max(sp.end_ns for sp in spans if sp.trace_id == t) - min(sp.start_ns for sp in spans if sp.trace_id == t)
              for t in received]
    assert root.end_ns - root.start_ns >= max(others) * 0.999  # the slowest is the slowest


def test_the_traces_command_draws_the_slowest_and_a_failed_trace(session: Session, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "agentwatch", "traces", str(session.spans_file),
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "slowest trace" in result.stdout and "failed trace" in result.stdout
    assert len(list(tmp_path.glob("trace-*.png"))) == 2


def test_recommend_from_prometheus_reports_the_agents_real_peak_memory(session: Session, tmp_path: Path) -> None:
    api = PrometheusAPI(session.prometheus.url)
    wait_until(lambda: len(api.query(c.PROCESS_RESIDENT_MEMORY)) == 2, 20, "both agents scraped")
    out, as_json = tmp_path / "fragment.yaml", tmp_path / "rec.json"
    result = subprocess.run([sys.executable, "-m", "agentwatch", "recommend", "--prometheus", session.prometheus.url,
                             "--since", "40s", "--step", "1s", "--rate-window", "5s", "--per-pod-rate", "30",
                             "--peak-rate", "100", "--out", str(out), "--json", str(as_json)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    rec = json.loads(as_json.read_text())
    assert rec["pods"] == 2 and rec["cpu_samples"] > 10 and rec["cpu_cores"] > 0
    # The peak RSS Prometheus scraped is the agents' own, read from /proc during the run (within 15 %).
    assert rec["memory_peak_bytes"] == pytest.approx(session.peak_rss, rel=0.15)
    assert rec["load_per_pod"]["max"] > 0 and rec["replicas"] == 5  # ceil(100 / (30 * 0.7))
    assert "requests: {cpu:" in out.read_text()
