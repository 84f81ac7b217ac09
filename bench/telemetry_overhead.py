"""Benchmark 1: telemetry overhead on the agent — telemetry on vs ``AGENTWATCH_TELEMETRY=off``.

Three agents on the server CPUs, same settings and Redis: telemetry with its defaults (every
request traced, tail sampling in the agent keeping failed, slow and 10% of other traces, kept
spans exported by the real OTLP/HTTP exporter to a local receiver), telemetry exporting every
trace (``AGENTWATCH_TRACES_KEEP_RATIO=1``), and ``AGENTWATCH_TELEMETRY=off``. The two traced
ones have their catalogue metrics scraped as OpenMetrics every ``--scrape-interval`` seconds, as
Prometheus would; all log JSON at INFO (the switch does not cover logs). ``wrk`` saturates one at
a time, alternating, with real messages to many conversations. Targets: default ≥ 95% of the
throughput with telemetry off, every trace exported ≥ 90%; p99 latency reported alongside.

    python -m agentwatch.bench.telemetry_overhead [--quick] [--rounds N] [--seconds S]
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Sequence

from agentwatch.bench.agents import PinnedAgent, pin_process, scrape
from agentwatch.bench.harness import (
    Pinning,
    Result,
    Target,
    alternate,
    base_parser,
    finish,
    ratio,
    rounds_for,
    start_all,
    summarize,
)
from agentwatch.bench.workload import MESSAGES
from agentwatch.bench.wrk import WrkStats, run_wrk
from agentwatch.local.otlp_receiver import OtlpReceiver
from agentwatch.local.processes import RedisServer

__all__ = ["main"]

TARGET = 0.95
TARGET_ALL = 0.90
#: variant → the agent's telemetry environment
VARIANTS = {"off": {"AGENTWATCH_TELEMETRY": "off"}, "on": {"AGENTWATCH_TELEMETRY": "on"},
            "all": {"AGENTWATCH_TELEMETRY": "on", "AGENTWATCH_TRACES_KEEP_RATIO": "1"}}
BODIES = [json.dumps({"text": m}) for m in MESSAGES]


class Scraper:
    """Scrapes ``/metrics`` (OpenMetrics, exemplars included) every ``interval`` seconds while running."""

    def __init__(self, url: str, interval: float) -> None:
        self.url, self.interval, self.count = url, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="scraper")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            scrape(self.url, openmetrics=True)
            self.count += 1

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main(argv: Sequence[str] | None = None) -> Result:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="wrk seconds per run (default 15, quick 3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per variant")
    parser.add_argument("--scrape-interval", type=float, default=5.0)
    args = parser.parse_args(argv)
    rounds = rounds_for(args)
    seconds = args.seconds or (3 if args.quick else 15)
    pinning = Pinning.detect(not args.no_pin)
    print(f"telemetry overhead: {rounds} rounds x {seconds:g}s per variant; {pinning.reason}", flush=True)
    variants = list(VARIANTS)
    scrapes = 0
    spans: dict[str, int] = {}
    with OtlpReceiver(keep_spans=False) as sink, RedisServer() as redis_server, contextlib.ExitStack() as stack:
        pin_process(redis_server.process.pid, pinning.load)
        agents = dict(zip(variants, start_all(stack, [
            PinnedAgent(redis_server.url, pinning, {**VARIANTS[v], "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint},
                        log_level="info") for v in variants]), strict=True))

        def run(variant: str, r: int, duration: float = seconds) -> WrkStats:
            nonlocal scrapes
            agent = agents[variant]
            before = sink.snapshot()
            with Scraper(agent.url, args.scrape_interval) if variant != "off" else contextlib.nullcontext() as scraper:
                stats = run_wrk(f"{agent.url}/v1/conversations/{variant}-r{r}-{{n}}/messages", seconds=duration,
                                connections=args.connections, body=BODIES, distinct=500, pinning=pinning,
                                timeout_s=5, server_pid=agent.pid)
            scrapes += getattr(scraper, "count", 0)
            if r >= 0:  # spans exported during the run (a few of the previous run's may land in it)
                spans[variant] = spans.get(variant, 0) + sink.snapshot() - before
            return stats

        for variant in variants:  # warm-up: first-request paths, exporter connection
            run(variant, -1, args.warmup)
        results = alternate(variants, rounds, run, lambda v, r, s: print(
            f"  round {r + 1}/{rounds} {v:>3}: {s.ok_rps:7.1f} msg/s  p99 {s.p99_ms:7.1f} ms  "
            f"CPU {s.cpu_ms_per_request:5.2f} ms/msg  non-2xx {s.non_2xx}",
            flush=True))
        for variant in ("on", "all"):
            agents[variant].stop()  # flushes the last spans

    result = Result("telemetry_overhead", "Telemetry overhead on the agent (benchmark 1)", args.quick,
                    {"rounds": rounds, "seconds_per_run": seconds, "connections": args.connections,
                     "sampling": "on: tail sampling in the agent (errors, slow, 10% of the rest); all: every trace",
                     "exporter": "OTLP/HTTP BatchSpanProcessor to a local receiver",
                     "scrape_interval_s": args.scrape_interval, "logs": "JSON lines at INFO (all three)"})
    rps = {v: [s.ok_rps for s in results[v]] for v in variants}
    p99 = {v: [s.p99_ms for s in results[v]] for v in variants}
    cpu = {v: summarize([s.cpu_ms_per_request for s in results[v]])["median"] for v in variants}
    for variant in variants:
        spread = summarize(rps[variant])
        result.rows.append({"telemetry": variant, "msg/s min": spread["min"], "msg/s median": spread["median"],
                            "msg/s max": spread["max"], "p99 ms median": summarize(p99[variant])["median"],
                            "ratio vs off (medians)": ratio(rps[variant], rps["off"])["of_medians"],
                            "agent CPU ms/msg": cpu[variant], "CPU ratio": cpu["off"] / cpu[variant],
                            "non-2xx": sum(s.non_2xx for s in results[variant])})
    for variant, bar, what in (("on", TARGET, "default telemetry (tail sampling) / telemetry off, msg/s"),
                               ("all", TARGET_ALL, "every trace exported / telemetry off, msg/s")):
        throughput = ratio(rps[variant], rps["off"])
        result.targets.append(Target(what, f">= {bar:.0%}", throughput["of_medians"], throughput["of_medians"] >= bar,
                                     note=f"per round {throughput['paired_min']:.2f}-{throughput['paired_max']:.2f}; "
                                          f"CPU ratio {cpu['off'] / cpu[variant]:.3f}"))
        p99_ratio = ratio(p99[variant], p99["off"])["of_medians"]
        result.notes.append(f"{variant}: telemetry costs {cpu[variant] - cpu['off']:.2f} ms of agent CPU per message "
                            f"({cpu['off']:.2f} → {cpu[variant]:.2f}); p99 {p99_ratio:.2f}x the p99 with telemetry off "
                            "(medians of rounds)")
    result.notes.append("CPU ratio = off CPU per message / this variant's: the throughput ratio on a core of its own, "
                        "robust to other load on the machine")
    for variant in ("on", "all"):
        ok_requests = sum(s.requests - s.non_2xx for s in results[variant])
        result.notes.append(f"{variant}: {spans.get(variant, 0):,} spans received by the local OTLP receiver for "
                            f"{ok_requests:,} answered messages ({spans.get(variant, 0) / max(ok_requests, 1):.2f} per "
                            "message; a kept message trace has 4: server, state.fetch, inference, state.save)")
    result.notes.append(f"{scrapes} /metrics scrapes during load")
    return finish(result, pinning, args, argv)


if __name__ == "__main__":
    main()
