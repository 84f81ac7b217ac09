"""Soak: steady load on one agent for minutes; resources and latency at the start and the end.

One Redis (AOF ``everysec``, as promised) and one agent. A client sends ``--rate`` messages per
second at a steady pace (open loop): a new conversation every 5/rate seconds, each four
messages (one after the other's answer) and a close. Every window
(``--window`` seconds) it records the agent's RSS and open file descriptors, Redis's
``used_memory`` and key count, and the latency (p50/p99) and errors of the requests answered in
that window. The first window after the warm-up is *start*, the last one *end*; a leak shows as
end growing past start. Conversations expire after ``--ttl`` seconds so Redis reaches a steady
state within a long soak (a short one reports the growth of live state, which is not a leak).

    python -m agentwatch.bench.soak --seconds 600          # make soak (SOAK_SECONDS=600)
    python -m agentwatch.bench.soak --quick                # about a minute
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from agentwatch.bench.agents import PinnedAgent, pin_process, rss_bytes
from agentwatch.bench.harness import Pinning, Result, Target, base_parser, finish, percentile
from agentwatch.bench.workload import MESSAGES, message_path
from agentwatch.local.processes import RedisServer

__all__ = ["SoakWindow", "main", "run_soak"]

PER_CONVERSATION = 5  # requests: four messages and the close


@dataclass
class SoakWindow:
    """What one window measured (``t``: seconds since the load started, at the window's end)."""

    t: float
    rss: int
    fds: int
    redis_memory: int
    redis_keys: int
    requests: int
    errors: int
    p50_s: float
    p99_s: float
    statuses: dict[int, int] = field(default_factory=dict)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _load(url: str, rate: float, seconds: float, window_s: float,
                sample: Callable[[float, list[tuple[float, float, int]]], SoakWindow]) -> list[SoakWindow]:
    """Open-loop load at ``rate``/s; ``sample(t, answered)`` closes a window every ``window_s``."""
    answered: list[tuple[float, float, int]] = []  # (answered at, seconds, status)
    windows: list[SoakWindow] = []
    pending: set[asyncio.Task[None]] = set()
    start = time.monotonic()

    async def request(client: httpx.AsyncClient, path: str, body: dict) -> None:
        sent = time.monotonic()
        try:
            status = (await client.post(path, json=body)).status_code
        except httpx.HTTPError:
            status = 0
        answered.append((time.monotonic(), time.monotonic() - sent, status))

    async def conversation(client: httpx.AsyncClient, n: int) -> None:
        """Four messages, each after the previous answer and a pause, then the close."""
        cid = f"soak-{n}"
        for k in range(4):
            await request(client, message_path(cid), {"text": MESSAGES[(n + k) % len(MESSAGES)]})
            await asyncio.sleep(PER_CONVERSATION / rate)
        await request(client, f"/v1/conversations/{cid}/close", {"outcome": "resolved"})

    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        n, next_window = 0, start + window_s
        while (now := time.monotonic()) < start + seconds:
            due = int((now - start) * rate / PER_CONVERSATION)  # a conversation makes 5 requests
            while n < due:
                task = asyncio.create_task(conversation(client, n))
                pending.add(task)
                task.add_done_callback(pending.discard)
                n += 1
            if now >= next_window:
                cut = [a for a in answered if a[0] <= now]
                answered[:] = [a for a in answered if a[0] > now]
                windows.append(await asyncio.to_thread(sample, now - start, cut))
                next_window += window_s
            await asyncio.sleep(0.005)
        await asyncio.gather(*pending)
    return windows


def run_soak(seconds: float, rate: float, window_s: float, ttl_s: int,
             pinning: Pinning | None = None) -> list[SoakWindow]:
    """Start Redis and an agent, soak them, return every window (the first is the warm-up)."""
    with RedisServer(appendfsync="everysec") as redis, \
            PinnedAgent(redis.url, pinning, env={"AGENT_CONVERSATION_TTL_SECONDS": str(ttl_s)}) as agent:
        if pinning is not None:
            pin_process(redis.process.pid, pinning.load)

        def sample(t: float, cut: list[tuple[float, float, int]]) -> SoakWindow:
            memory = redis.info("memory")
            latencies = [s for _, s, status in cut if status == 200] or [0.0]
            statuses: dict[int, int] = {}
            for _, _, status in cut:
                statuses[status] = statuses.get(status, 0) + 1
            return SoakWindow(t, rss_bytes(agent.pid), open_fds(agent.pid), int(memory["used_memory"]),
                              int(redis.cli("DBSIZE")), len(cut), sum(n for s, n in statuses.items() if s != 200),
                              percentile(latencies, 50), percentile(latencies, 99), statuses)

        with pinning.pin_self("load") if pinning is not None else contextlib.nullcontext():
            return asyncio.run(_load(agent.url, rate, seconds, window_s, sample))


def main(argv: Sequence[str] | None = None) -> Result:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="load duration (default 600, quick 50)")
    parser.add_argument("--rate", type=float, default=30.0, help="requests per second (default 30)")
    parser.add_argument("--window", type=float, default=None, help="seconds per window (default 30, quick 10)")
    parser.add_argument("--ttl", type=int, default=120, help="conversation TTL, seconds (default 120)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (50.0 if args.quick else 600.0)
    window = args.window or (10.0 if args.quick else 30.0)
    pinning = Pinning.detect(not args.no_pin)
    print(f"soak: {seconds:g} s at {args.rate:g} req/s, windows of {window:g} s; {pinning.reason}", flush=True)
    windows = run_soak(seconds, args.rate, window, args.ttl, pinning)
    result = Result("soak", "Soak: resources and latency at the start and the end of steady load", args.quick,
                    {"seconds": seconds, "rate req/s": args.rate, "window s": window, "conversation TTL s": args.ttl})
    for w in windows:
        result.rows.append({"t s": round(w.t), "RSS MiB": w.rss / 2**20, "open fds": w.fds,
                            "Redis MiB": w.redis_memory / 2**20, "Redis keys": w.redis_keys, "requests": w.requests,
                            "errors": w.errors, "p50 ms": w.p50_s * 1000, "p99 ms": w.p99_s * 1000,
                            "non-200": ", ".join(f"{k}: {v}" for k, v in sorted(w.statuses.items()) if k != 200)})
    start, end = windows[1] if len(windows) > 2 else windows[0], windows[-1]  # windows[0]: warm-up
    growth = end.rss / start.rss
    result.targets.append(Target("RSS end / start", "<= 1.10 (bounded)", growth, growth <= 1.10,
                                 note=f"{start.rss / 2**20:.0f} → {end.rss / 2**20:.0f} MiB; fds {start.fds} → "
                                      f"{end.fds}; Redis {start.redis_memory / 2**20:.1f} → "
                                      f"{end.redis_memory / 2**20:.1f} MiB"))
    p99 = end.p99_s / start.p99_s if start.p99_s else 1.0
    result.targets.append(Target("p99 end / start", "<= 2 (no degradation)", p99, p99 <= 2,
                                 note=f"{start.p99_s * 1000:.0f} → {end.p99_s * 1000:.0f} ms; errors "
                                      f"{sum(w.errors for w in windows)}"))
    return finish(result, pinning, args, argv)


if __name__ == "__main__":
    main()
