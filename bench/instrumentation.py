"""Benchmark 2: instrumentation overhead on an empty FastAPI route.

The same app (see :mod:`agentwatch.bench.apps`) served five ways — no telemetry; our
``Telemetry.instrument_app`` with its defaults (lean server span, tail sampling keeping failed,
slow and 10% of other traces); ours exporting every trace (``AGENTWATCH_TRACES_KEEP_RATIO=1``);
ours with ``AGENTWATCH_FASTAPI_INSTRUMENTATION=contrib`` (every trace); stock
``FastAPIInstrumentor.instrument_app(app)`` with its defaults (every trace) — each by uvicorn
(1 worker, the loop and HTTP parser it picks) in its own process pinned to the server CPU, all
running at once. ``wrk`` loads one at a time, alternating, for several rounds. Kept spans go over
real OTLP/HTTP to a local receiver that counts them. Targets: ours ≥ 75% of the baseline's req/s,
and ≥ 2x stock's.

    python -m agentwatch.bench.instrumentation [--quick] [--rounds N] [--seconds S]
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from agentwatch.bench.harness import (
    Pinning,
    Result,
    Target,
    UvicornServer,
    alternate,
    base_parser,
    finish,
    ratio,
    rounds_for,
    start_all,
    summarize,
)
from agentwatch.bench.wrk import WrkStats, run_wrk
from agentwatch.local.otlp_receiver import OtlpReceiver

__all__ = ["FACTORIES", "main"]

#: variant → (uvicorn factory, extra environment)
FACTORIES = {
    "none": ("agentwatch.bench.apps:plain_app", {}),
    "ours": ("agentwatch.bench.apps:ours_app", {"AGENTWATCH_FASTAPI_INSTRUMENTATION": "lean"}),
    "ours_all": ("agentwatch.bench.apps:ours_app", {"AGENTWATCH_FASTAPI_INSTRUMENTATION": "lean",
                                                    "AGENTWATCH_TRACES_KEEP_RATIO": "1"}),
    "contrib": ("agentwatch.bench.apps:ours_app", {"AGENTWATCH_FASTAPI_INSTRUMENTATION": "contrib",
                                                   "AGENTWATCH_TRACES_KEEP_RATIO": "1"}),
    "stock": ("agentwatch.bench.apps:stock_app", {}),
}
BODY = '{"text": "ping"}'
TARGET = 0.75
TARGET_VS_STOCK = 2.0


def measure(variants: Sequence[str], rounds: int, seconds: float, connections: int, threads: int | None,
            pinning: Pinning, log: bool = True) -> tuple[dict[str, list[WrkStats]], int]:
    """Start every variant, warm each up, then alternate wrk runs; return stats and spans exported."""
    with OtlpReceiver(keep_spans=False) as sink, contextlib.ExitStack() as stack:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint, "AGENTWATCH_TELEMETRY": "on"}
        servers = dict(zip(variants, start_all(stack, [
            UvicornServer(FACTORIES[v][0], cpus=pinning, env={**env, **FACTORIES[v][1]}) for v in variants]),
            strict=True))

        def once(variant: str, _round: int, duration: float = seconds) -> WrkStats:
            server = servers[variant]
            return run_wrk(f"{server.url}/v1/ping", seconds=duration, connections=connections, threads=threads,
                           body=BODY, pinning=pinning, server_pid=server.process.pid)

        for variant in variants:  # warm-up: imports, first-request paths, exporter connection
            once(variant, -1, duration=1)

        def show(variant: str, r: int, stats: WrkStats) -> None:
            if log:
                print(f"  round {r + 1}/{rounds} {variant:>7}: {stats.rps:8.0f} req/s  p99 {stats.p99_ms:6.1f} ms"
                      f"  CPU {stats.cpu_ms_per_request * 1e3:5.0f} µs/req  non-2xx {stats.non_2xx}", flush=True)

        results = alternate(variants, rounds, once, show)
        spans = sink.snapshot()
    return results, spans


def _server_stack() -> str:
    """What uvicorn's ``auto`` loop and HTTP settings resolve to here."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{http}, {loop}"


def main(argv: Sequence[str] | None = None) -> Result:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="wrk duration per run (default 10, quick 3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="wrk threads (default: 1 when pinned, else 2)")
    parser.add_argument("--variants", default="none,ours,ours_all,contrib,stock",
                        help="comma-separated: none, ours (lean, the default), ours_all (every trace), "
                             "contrib (ours with AGENTWATCH_FASTAPI_INSTRUMENTATION=contrib), stock")
    args = parser.parse_args(argv)
    rounds = rounds_for(args)
    seconds = args.seconds or (3 if args.quick else 10)
    variants = [v.strip() for v in args.variants.split(",")]
    if variants[0] != "none" or not set(variants) <= set(FACTORIES):
        parser.error(f"--variants must start with 'none' and name only {sorted(FACTORIES)}")
    pinning = Pinning.detect(not args.no_pin)
    print(f"instrumentation overhead: {rounds} rounds x {seconds:g}s per variant; {pinning.reason}", flush=True)
    stats, spans = measure(variants, rounds, seconds, args.connections, args.threads, pinning)

    base = [s.rps for s in stats["none"]]
    base_cpu = summarize([s.cpu_ms_per_request for s in stats["none"]])["median"]
    result = Result("instrumentation", "Instrumentation overhead on an empty route (benchmark 2)",
                    args.quick,
                    {"rounds": rounds, "seconds_per_run": seconds, "connections": args.connections,
                     "wrk_threads": args.threads or ("1" if pinning.used else "2"), "route": "POST /v1/ping",
                     "server": f"uvicorn 1 worker ({_server_stack()})",
                     "sampling": "ours: tail sampling (errors, slow, 10%); ours_all, contrib, stock: every trace",
                     "exporter": "OTLP/HTTP BatchSpanProcessor to a local receiver"})
    for variant in variants:
        rps = [s.rps for s in stats[variant]]
        r, spread = ratio(rps, base), summarize(rps)
        cpu = summarize([s.cpu_ms_per_request for s in stats[variant]])["median"]
        result.rows.append({
            "variant": variant, "req/s min": spread["min"], "req/s median": spread["median"],
            "req/s max": spread["max"], "p99 ms median": summarize([s.p99_ms for s in stats[variant]])["median"],
            "ratio (medians)": r["of_medians"], "ratio per round min": r["paired_min"],
            "ratio per round max": r["paired_max"], "server CPU µs/req": cpu * 1e3,
            "CPU ratio": base_cpu / cpu, "non-2xx": sum(s.non_2xx for s in stats[variant]),
        })
    by_variant = {row["variant"]: row for row in result.rows}
    if "ours" in by_variant:
        ours = by_variant["ours"]["ratio (medians)"]
        cpu_ratio = by_variant["ours"]["CPU ratio"]
        result.targets.append(Target("ours (default sampling) / no telemetry, req/s", f">= {TARGET:.0%}", ours,
                                     ours >= TARGET,
                                     note=f"server CPU per request: {cpu_ratio:.2f} of the baseline's efficiency"))
        if "stock" in by_variant:
            vs_stock = ratio([s.rps for s in stats["ours"]], [s.rps for s in stats["stock"]])["of_medians"]
            result.targets.append(Target("ours (default sampling) / stock FastAPIInstrumentor, req/s",
                                         f">= {TARGET_VS_STOCK:g}x", vs_stock, vs_stock >= TARGET_VS_STOCK,
                                         note=f"CPU: {cpu_ratio / by_variant['stock']['CPU ratio']:.2f}x"))
    if "ours_all" in by_variant:
        result.notes.append(f"ours exporting every trace keeps {by_variant['ours_all']['ratio (medians)']:.0%} "
                            f"(CPU ratio {by_variant['ours_all']['CPU ratio']:.2f})")
    if "contrib" in by_variant:
        result.notes.append(f"ours with AGENTWATCH_FASTAPI_INSTRUMENTATION=contrib (the contrib FastAPI instrumentor, "
                            f"lean options) keeps {by_variant['contrib']['ratio (medians)']:.0%}")
    if "stock" in by_variant:
        result.notes.append(f"stock FastAPIInstrumentor defaults keep {by_variant['stock']['ratio (medians)']:.0%} "
                            "of the baseline (the issue quotes about a third)")
    result.notes.append("CPU ratio = baseline server CPU per request / this variant's: the throughput ratio the "
                        "server would reach on a core of its own, robust to other load on the machine")
    result.notes.append(f"{spans:,} spans received by the local OTLP receiver (proof that tracing and export ran)")
    if any(row["non-2xx"] for row in result.rows):
        result.notes.append("some responses were not 2xx: see the non-2xx column")
    return finish(result, pinning, args, argv)


if __name__ == "__main__":
    main()
