"""Soak: steady load on one agent for minutes; resources and latency at the start and the end.

One Redis (AOF ``everysec``, as promised) and one agent; the load is the project's Locust
customers (:mod:`agentwatch.load`, shape ``soak``: steady users with think time). Every window
(``--window`` seconds) records the agent's RSS and open file descriptors, Redis's
``used_memory`` and key count, and — from the agent's own ``/metrics`` — the requests answered
in the window by status and the messages' p50/p99. The second window is *start* (the first warms
allocator pools and lazy imports), the last one *end*; a leak shows as end growing past start.
Conversations end when idle for ``--idle`` seconds and expire ``--ttl`` seconds after they end,
so Redis reaches a steady state within the run.

    python -m agentwatch.bench.soak --seconds 600          # make soak (SOAK_SECONDS=600)
    python -m agentwatch.bench.soak --quick                # about a minute
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from agentwatch.bench.agents import PinnedAgent, Scrape, pin_process, rss_bytes, scrape
from agentwatch.bench.harness import Pinning, Result, Target, base_parser, finish
from agentwatch.bench.overload import MESSAGES_ROUTE, histogram_quantile
from agentwatch.load.runner import start_load
from agentwatch.load.summary import LoadSummary
from agentwatch.local.processes import RedisServer
from agentwatch.telemetry import catalogue as c

__all__ = ["SoakWindow", "main", "run_soak"]


@dataclass
class SoakWindow:
    """What one window measured (``t``: seconds since the load started, at the window's end)."""

    t: float
    rss: int
    fds: int
    redis_memory: int
    redis_keys: int
    requests: int
    p50_s: float
    p99_s: float
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        """Answers that were neither a success nor a client's own mistake: 5xx and 429."""
        return sum(n for code, n in self.statuses.items() if code >= 500 or code == 429)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _by_status(before: Scrape, after: Scrape) -> dict[int, int]:
    counts: dict[int, float] = {}
    for snapshot, sign in ((after, 1), (before, -1)):
        for s in snapshot.samples:
            if s.name == c.REQUEST_DURATION.count:
                code = int(s.labels["code"])
                counts[code] = counts.get(code, 0.0) + sign * s.value
    return {code: int(n) for code, n in counts.items() if n}


def run_soak(seconds: float, users: int, window_s: float, ttl_s: int, idle_s: int,
             pinning: Pinning | None = None) -> tuple[list[SoakWindow], LoadSummary]:
    """Start Redis and an agent, soak them with Locust, return every window and Locust's summary."""
    env = {"AGENT_CONVERSATION_TTL_SECONDS": str(ttl_s), "AGENT_IDLE_TIMEOUT_SECONDS": str(idle_s)}
    with RedisServer(appendfsync="everysec") as redis, PinnedAgent(redis.url, pinning, env=env) as agent:
        if pinning is not None:
            pin_process(redis.process.pid, pinning.load)
        windows: list[SoakWindow] = []
        cpus = pinning.load if pinning is not None and pinning.used else None
        # No read-back (verify=False): conversations here expire on purpose; losing none is what
        # the reliability tests and the capacity benchmark check.
        with start_load(agent.url, "soak", seconds=seconds, users=users, probes=False, cpus=cpus, seed=13,
                        verify=False) as run:
            start, previous = time.monotonic(), scrape(agent.url)
            while (elapsed := time.monotonic() - start) < seconds - window_s / 2:
                time.sleep(min(window_s, seconds - elapsed))
                assert run.process is not None
                if run.process.poll() is not None:
                    break
                current = scrape(agent.url)
                statuses = _by_status(previous, current)
                windows.append(SoakWindow(
                    time.monotonic() - start, rss_bytes(agent.pid), open_fds(agent.pid),
                    int(redis.info("memory")["used_memory"]), int(redis.cli("DBSIZE")), sum(statuses.values()),
                    histogram_quantile(0.5, previous, current, c.REQUEST_DURATION.name, route=MESSAGES_ROUTE,
                                       code="200"),
                    histogram_quantile(0.99, previous, current, c.REQUEST_DURATION.name, route=MESSAGES_ROUTE,
                                       code="200"),
                    statuses))
                previous = current
        assert run.summary is not None
        return windows, run.summary


def main(argv: Sequence[str] | None = None) -> Result:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="load duration (default 600, quick 50)")
    parser.add_argument("--users", type=int, default=40, help="Locust customers (default 40, about 15 msg/s)")
    parser.add_argument("--window", type=float, default=None, help="seconds per window (default 30, quick 10)")
    parser.add_argument("--ttl", type=int, default=60, help="seconds an ended conversation is kept (default 60)")
    parser.add_argument("--idle", type=int, default=60, help="seconds of silence that end one (default 60)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (50.0 if args.quick else 600.0)
    window = args.window or (10.0 if args.quick else 30.0)
    pinning = Pinning.detect(not args.no_pin)
    print(f"soak: {seconds:g} s, {args.users} Locust customers, windows of {window:g} s; {pinning.reason}", flush=True)
    windows, summary = run_soak(seconds, args.users, window, args.ttl, args.idle, pinning)
    result = Result("soak", "Soak: resources and latency at the start and the end of steady load", args.quick,
                    {"seconds": seconds, "Locust users": args.users, "window s": window,
                     "idle timeout s": args.idle, "conversation TTL s": args.ttl})
    for w in windows:
        result.rows.append({"t s": round(w.t), "RSS MiB": w.rss / 2**20, "open fds": w.fds,
                            "Redis MiB": w.redis_memory / 2**20, "Redis keys": w.redis_keys, "requests": w.requests,
                            "p50 ms": w.p50_s * 1000, "p99 ms": w.p99_s * 1000,
                            "non-2xx": ", ".join(f"{k}: {v}" for k, v in sorted(w.statuses.items()) if k >= 300)})
    start, end = windows[1] if len(windows) > 2 else windows[0], windows[-1]
    growth = end.rss / start.rss
    result.targets.append(Target("RSS end / start", "<= 1.10 (bounded)", growth, growth <= 1.10,
                                 note=f"{start.rss / 2**20:.0f} → {end.rss / 2**20:.0f} MiB; fds {start.fds} → "
                                      f"{end.fds}; Redis {start.redis_memory / 2**20:.1f} → "
                                      f"{end.redis_memory / 2**20:.1f} MiB"))
    p99 = end.p99_s / start.p99_s if start.p99_s else 1.0
    result.targets.append(Target("p99 end / start", "<= 2 (no degradation)", p99, p99 <= 2,
                                 note=f"{start.p99_s * 1000:.0f} → {end.p99_s * 1000:.0f} ms; 5xx and 429: "
                                      f"{sum(w.errors for w in windows)}"))
    result.notes.append(f"Locust: {summary.requests} requests, {summary.messages} messages, "
                        f"{summary.messages_per_second:.1f} msg/s, error ratio {summary.error_ratio:.4f}")
    return finish(result, pinning, args, argv)


if __name__ == "__main__":
    main()
