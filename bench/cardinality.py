"""Benchmark 5: metric cardinality — ``/metrics`` series count and size vs distinct ids and paths.

One agent (telemetry on). In steps up to 10, 1000 and 10 000, it gets a real message for every new
conversation id, a ``GET`` of an unknown conversation, and requests to hostile paths — scanner
paths, path traversal, random segments, bad ids, unknown methods — each one distinct. After each
step ``/metrics`` is scraped (text format and OpenMetrics): the series count and body size must not
grow with the number of distinct values. Baseline: the first step. Target: identical series.

    python -m agentwatch.bench.cardinality [--quick] [--steps 10,1000,10000]
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from agentwatch.bench.agents import PinnedAgent, pin_process, scrape
from agentwatch.bench.harness import Pinning, Result, Target, base_parser, finish
from agentwatch.bench.workload import drive
from agentwatch.local.processes import RedisServer

__all__ = ["hostile_requests", "main"]


def hostile_requests(start: int, stop: int) -> list[tuple[str, str]]:
    """Distinct hostile ``(method, path)`` pairs numbered ``start..stop-1`` (several kinds each)."""
    out: list[tuple[str, str]] = []
    for i in range(start, stop):
        out += [
            ("GET", f"/wp-admin/setup-{i}.php"),
            ("GET", f"/v1/conversations/c{i}/..%2f..%2fetc%2fpasswd"),
            ("POST", f"/v1/conversations/bad%20id%3B{i}/messages"),       # id outside the pattern: 400
            ("GET", f"/v1/conversations/unknown-{i}"),                      # unknown conversation: 404
            ("DELETE", f"/v1/conversations/c{i}"),                          # method not allowed: 405
            ("PROPFIND", f"/{i}/" + "A" * 200),                             # unknown method, long path
        ]
    return out


def main(argv: Sequence[str] | None = None) -> Result:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--steps", default=None, help="cumulative distinct values per step "
                        "(default 10,1000,10000; quick 10,100,300)")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    steps = [int(x) for x in (args.steps or ("10,100,300" if args.quick else "10,1000,10000")).split(",")]
    pinning = Pinning.detect(not args.no_pin)
    print(f"cardinality: steps {steps}; {pinning.reason}", flush=True)
    result = Result("cardinality", "Metric cardinality vs distinct conversation ids and hostile paths "
                    "(benchmark 5)", args.quick,
                    {"steps": ",".join(map(str, steps)), "hostile kinds per step value": 6,
                     "per conversation": "1 message"})
    with RedisServer() as redis_server, PinnedAgent(redis_server.url, pinning) as agent:
        pin_process(redis_server.process.pid, pinning.load)
        done = 0
        for step in steps:
            ids = [f"card-{i}" for i in range(done, step)]
            with pinning.pin_self("load"):  # the client runs here, off the agent's CPU
                counts = asyncio.run(drive(agent.url, ids, concurrency=args.concurrency,
                                           extra_requests=hostile_requests(done, step)))
            done = step
            text, om = scrape(agent.url), scrape(agent.url, openmetrics=True)
            result.rows.append({"distinct ids and paths": step, "series (text)": text.series,
                                "bytes (text)": len(text.body), "series (OpenMetrics)": om.series,
                                "bytes (OpenMetrics)": len(om.body),
                                "responses": ", ".join(f"{code}: {n}" for code, n in sorted(counts.items()))})
            print(f"  {step:>6}: {text.series} series, {len(text.body):,} bytes", flush=True)
    first, last = result.rows[0], result.rows[-1]
    growth = last["series (text)"] / first["series (text)"]
    result.targets.append(Target(f"series at {steps[-1]} / series at {steps[0]}", "identical (1.0)", growth,
                                 last["series (text)"] == first["series (text)"]))
    size = last["bytes (text)"] / first["bytes (text)"]
    result.notes.append(f"exposition size at {steps[-1]} is {size:.4f}x the size at {steps[0]} "
                        f"({last['bytes (text)'] - first['bytes (text)']:+,} bytes: longer counter and sum values, "
                        "not new series)")
    return finish(result, pinning, args, argv)


if __name__ == "__main__":
    main()
