"""Benchmark 1: telemetry overhead on the agent — full telemetry vs ``AGENTWATCH_TELEMETRY=off``.

Two agents on the server CPUs, same settings and Redis: one with full telemetry (every request
traced, 100% sampled, spans exported by the real OTLP/HTTP exporter to a local receiver; catalogue
metrics scraped as OpenMetrics every ``--scrape-interval`` seconds, as Prometheus would; JSON
logs at INFO), one with ``AGENTWATCH_TELEMETRY=off`` (same JSON logs: the switch does not cover
them). ``wrk`` saturates one at a time, alternating, with real messages to many conversations.
Target: ≥ 95% of the throughput; p99 latency reported alongside.

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
    variants = ["off", "on"]
    scrapes = 0
    with OtlpReceiver(keep_spans=False) as sink, RedisServer() as redis_server, contextlib.ExitStack() as stack:
        pin_process(redis_server.process.pid, pinning.load)
        on, off = start_all(stack, [
            PinnedAgent(redis_server.url, pinning, {"AGENTWATCH_TELEMETRY": "on", "OTEL_TRACES_SAMPLER_ARG": "1.0",
                                                    "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint}, log_level="info"),
            PinnedAgent(redis_server.url, pinning, {"AGENTWATCH_TELEMETRY": "off"}, log_level="info")])
        agents = {"on": on, "off": off}

        def run(variant: str, r: int, duration: float = seconds) -> WrkStats:
            nonlocal scrapes
            agent = agents[variant]
            with Scraper(agent.url, args.scrape_interval) if variant == "on" else contextlib.nullcontext() as scraper:
                stats = run_wrk(f"{agent.url}/v1/conversations/{variant}-r{r}-{{n}}/messages", seconds=duration,
                                connections=args.connections, body=BODIES, distinct=500, pinning=pinning,
                                timeout_s=5, server_pid=agent.pid)
            scrapes += getattr(scraper, "count", 0)
            return stats

        warm_up = {variant: run(variant, -1, args.warmup) for variant in variants}
        results = alternate(variants, rounds, run, lambda v, r, s: print(
            f"  round {r + 1}/{rounds} {v:>3}: {s.ok_rps:7.1f} msg/s  p99 {s.p99_ms:7.1f} ms  "
            f"CPU {s.cpu_ms_per_request:5.2f} ms/msg  non-2xx {s.non_2xx}",
            flush=True))
        on.stop()  # flushes the last spans
        spans = sink.snapshot()

    result = Result("telemetry_overhead", "Telemetry overhead on the agent (benchmark 1)", args.quick,
                    {"rounds": rounds, "seconds_per_run": seconds, "connections": args.connections,
                     "sampling": "100%", "exporter": "OTLP/HTTP BatchSpanProcessor to a local receiver",
                     "scrape_interval_s": args.scrape_interval, "logs": "JSON lines at INFO (both)"})
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
    throughput = ratio(rps["on"], rps["off"])
    result.targets.append(Target("full telemetry / telemetry off, msg/s", f">= {TARGET:.0%}",
                                 throughput["of_medians"], throughput["of_medians"] >= TARGET,
                                 note=f"per round {throughput['paired_min']:.2f}-{throughput['paired_max']:.2f}"))
    result.notes.append(f"telemetry costs {cpu['on'] - cpu['off']:.2f} ms of agent CPU per message "
                        f"({cpu['off']:.2f} → {cpu['on']:.2f}); CPU ratio = off CPU per message / on CPU per message, "
                        "the throughput ratio on a core of its own, robust to other load on the machine")
    p99_ratio = ratio(p99["on"], p99["off"])["of_medians"]
    result.notes.append(f"p99 latency with telemetry on is {p99_ratio:.2f}x the p99 with it off (medians of rounds)")
    ok_requests = sum(s.requests - s.non_2xx for s in [*results["on"], warm_up["on"]])
    result.notes.append(f"{spans:,} spans received by the local OTLP receiver for {ok_requests:,} answered messages "
                        f"({spans / max(ok_requests, 1):.1f} per message: 6 per message, plus those of requests still "
                        f"in flight when wrk stops, which wrk does not count); {scrapes} /metrics scrapes during load")
    return finish(result, pinning, args, argv)


if __name__ == "__main__":
    main()
