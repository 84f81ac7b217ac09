"""Benchmark 7: memory — agent RSS at idle and after thousands of conversations.

One agent (telemetry on). RSS (``VmRSS``) is read when it turns ready (idle), then after each
checkpoint of conversations, each a real message followed by a close. Conversation state lives in
Redis, so RSS must plateau: the target is RSS after the last checkpoint within 5% of RSS after
the first one (the first requests warm allocator pools and lazy imports, so idle → first
checkpoint is reported but not held to the bound).

    python -m agentwatch.bench.memory [--quick] [--checkpoints 1000,5000,10000]
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from agentwatch.bench.agents import PinnedAgent, pin_process, rss_bytes
from agentwatch.bench.harness import Pinning, Result, Target, base_parser, finish
from agentwatch.bench.workload import drive
from agentwatch.local.processes import RedisServer

__all__ = ["main"]

TARGET = 1.05


def main(argv: Sequence[str] | None = None) -> Result:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", default=None, help="cumulative conversations at which RSS is read "
                        "(default 1000,5000,10000; quick 100,300)")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    checkpoints = [int(x) for x in (args.checkpoints or ("100,300" if args.quick else "1000,5000,10000")).split(",")]
    pinning = Pinning.detect(not args.no_pin)
    print(f"memory: checkpoints {checkpoints}; {pinning.reason}", flush=True)
    result = Result("memory", "Agent memory at idle and after many conversations (benchmark 7)", args.quick,
                    {"checkpoints": ",".join(map(str, checkpoints)), "per conversation": "1 message + close",
                     "concurrency": args.concurrency})
    with RedisServer() as redis_server, PinnedAgent(redis_server.url, pinning) as agent:
        pin_process(redis_server.process.pid, pinning.load)
        idle = rss_bytes(agent.pid)
        result.rows.append({"conversations": 0, "RSS MiB": idle / 2**20, "vs idle": 1.0, "responses": "idle"})
        done = 0
        for checkpoint in checkpoints:
            ids = [f"mem-{i}" for i in range(done, checkpoint)]
            with pinning.pin_self("load"):  # the client runs here, off the agent's CPU
                counts = asyncio.run(drive(agent.url, ids, concurrency=args.concurrency, close=True))
            done = checkpoint
            rss = rss_bytes(agent.pid)
            result.rows.append({"conversations": checkpoint, "RSS MiB": rss / 2**20, "vs idle": rss / idle,
                                "responses": ", ".join(f"{code}: {n}" for code, n in sorted(counts.items()))})
            print(f"  {checkpoint:>6} conversations: RSS {rss / 2**20:,.1f} MiB", flush=True)
    first, last = result.rows[1], result.rows[-1]
    growth = last["RSS MiB"] / first["RSS MiB"]
    result.targets.append(Target(f"RSS after {checkpoints[-1]} / after {checkpoints[0]} conversations",
                                 f"<= {TARGET} (bounded)", growth, growth <= TARGET,
                                 note=f"idle {idle / 2**20:,.0f} MiB; after {checkpoints[-1]}: "
                                      f"{last['vs idle']:.2f}x idle"))
    return finish(result, pinning, args, argv)


if __name__ == "__main__":
    main()
