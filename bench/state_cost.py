"""Benchmark 4: conversation state cost against history length, ours vs the seed pattern.

On one real redis-server (pinned to the server CPU; this process on the load CPU):

* **ours** — the agent's :class:`ConversationStore`: ``fetch`` reads the flags and the last
  ``window`` turns in one pipelined round trip; ``append`` is one atomic Lua call.
* **seed** — the pattern it replaced: the whole history as one JSON blob, ``GET`` + ``json.loads``
  to read, then append and ``json.dumps`` + ``SET`` to write.

Conversations are prefilled to 10, 100 and 1000 turns (ours with the cap raised so it really
holds every turn, like the blob). Samples of every (pattern, operation, length) are taken
interleaved one by one, so machine noise hits all of them alike. The write cycle keeps the length
constant (ours: cap = length; seed: the oldest turn dropped) so each length is measured as such.
A last check runs 4 concurrent writers on one conversation and counts the turns kept.
Target: ours flat — 1000-turn p99 / 10-turn p99 ≤ 1.1.

    python -m agentwatch.bench.state_cost [--quick] [--samples N] [--lengths 10,100,1000]
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis

from agentwatch.agent.state import ConversationStore
from agentwatch.bench.agents import pin_process
from agentwatch.bench.harness import (
    Pinning,
    Result,
    Target,
    base_parser,
    finish,
    percentile,
    rounds_for,
)
from agentwatch.bench.workload import AGENT_REPLY, USER_MESSAGE
from agentwatch.local.processes import RedisServer

__all__ = ["main"]

TARGET = 1.1
WINDOW = 12
TS = "2026-01-01T00:00:00.000Z"


def _seed_entries(turns: int) -> list[dict]:
    out = []
    for turn in range(1, turns + 1):
        out += [{"turn": turn, "role": "user", "text": USER_MESSAGE, "ts": TS},
                {"turn": turn, "role": "agent", "text": AGENT_REPLY, "ts": TS}]
    return out


async def _ours_append(store: ConversationStore, cid: str) -> None:
    await store.append(cid, ts=TS, user_text=USER_MESSAGE, agent_text=AGENT_REPLY, low_confidence=False,
                       complaint=False, escalate=None, order=None)


async def _seed_cycle(client: aioredis.Redis, key: str, keep_turns: int) -> None:
    history = json.loads(await client.get(key) or "[]")
    turn = history[-1]["turn"] + 1 if history else 1
    history += [{"turn": turn, "role": "user", "text": USER_MESSAGE, "ts": TS},
                {"turn": turn, "role": "agent", "text": AGENT_REPLY, "ts": TS}]
    await client.set(key, json.dumps(history[-2 * keep_turns:]))


async def _concurrent_writers(url: str, writers: int, turns_each: int) -> dict[str, int]:
    """Turns kept when ``writers`` append to one conversation at once, per pattern."""
    store = ConversationStore(url, window=WINDOW, cap=4 * writers * turns_each, ttl_seconds=3600)
    clients = [aioredis.Redis.from_url(url) for _ in range(writers)]

    async def ours_writer() -> None:
        for _ in range(turns_each):
            await _ours_append(store, "race-ours")

    async def seed_writer(client: aioredis.Redis) -> None:
        for _ in range(turns_each):
            await _seed_cycle(client, "race-seed", 10**9)

    await asyncio.gather(*(ours_writer() for _ in range(writers)))
    await asyncio.gather(*(seed_writer(c) for c in clients))
    kept_ours = len((await store.history("race-ours")).turns) // 2
    kept_seed = len(json.loads(await clients[0].get("race-seed"))) // 2
    await store.aclose()
    for client in clients:
        await client.aclose()
    return {"ours": kept_ours, "seed": kept_seed, "written": writers * turns_each}


async def measure(url: str, lengths: Sequence[int], samples: int,
                  rounds: int) -> dict[tuple[str, str, int], list[float]]:
    """Latency samples (seconds) per (pattern, operation, length), interleaved sample by sample."""
    client = aioredis.Redis.from_url(url)
    stores = {n: ConversationStore(url, window=WINDOW, cap=2 * n, ttl_seconds=3600) for n in lengths}
    for n in lengths:  # prefill: ours through the real append script, seed as one blob
        for _ in range(n):
            await _ours_append(stores[n], f"ours-{n}")
        await client.set(f"seed-{n}", json.dumps(_seed_entries(n)))

    async def ours_fetch(n: int) -> None:
        snapshot = await stores[n].fetch(f"ours-{n}")
        assert len(snapshot.turns) == min(WINDOW, 2 * n)

    async def seed_fetch(n: int) -> None:
        history = json.loads(await client.get(f"seed-{n}"))
        assert len(history) == 2 * n

    async def ours_cycle(n: int) -> None:
        await stores[n].fetch(f"ours-{n}")
        await _ours_append(stores[n], f"ours-{n}")

    async def seed_cycle(n: int) -> None:
        await _seed_cycle(client, f"seed-{n}", n)

    ops: dict[tuple[str, str], Callable[[int], Awaitable[None]]] = {
        ("ours", "fetch"): ours_fetch, ("seed", "fetch"): seed_fetch,
        ("ours", "fetch+append"): ours_cycle, ("seed", "fetch+append"): seed_cycle}
    combos = [(p, o, n) for (p, o) in ops for n in lengths]
    out: dict[tuple[str, str, int], list[float]] = {c: [] for c in combos}
    for combo in combos:  # warm-up
        await ops[combo[:2]](combo[2])
    for r in range(rounds):
        for i in range(samples):
            shift = (i + r) % len(combos)
            for pattern, op, n in combos[shift:] + combos[:shift]:
                start = time.perf_counter()
                await ops[(pattern, op)](n)
                out[(pattern, op, n)].append(time.perf_counter() - start)
    for store in stores.values():
        await store.aclose()
    await client.aclose()
    return out


def main(argv: Sequence[str] | None = None) -> Result:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=None, help="samples per combination per round "
                        "(default 600, quick 100)")
    parser.add_argument("--lengths", default="10,100,1000", help="history lengths in turns")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writers in the race check")
    parser.add_argument("--turns-per-writer", type=int, default=None, help="default 400, quick 50")
    args = parser.parse_args(argv)
    rounds = rounds_for(args)
    samples = args.samples or (100 if args.quick else 600)
    lengths = [int(x) for x in args.lengths.split(",")]
    per_writer = args.turns_per_writer or (50 if args.quick else 400)
    pinning = Pinning.detect(not args.no_pin)
    print(f"state cost: {rounds} rounds x {samples} interleaved samples; {pinning.reason}", flush=True)
    with pinning.pin_self("load"), RedisServer() as redis_server:  # this process is the client
        pin_process(redis_server.process.pid, pinning.server)
        data = asyncio.run(measure(redis_server.url, lengths, samples, rounds))
        race = asyncio.run(_concurrent_writers(redis_server.url, args.writers, per_writer))

    result = Result("state_cost", "State cost vs history length (benchmark 4)", args.quick,
                    {"rounds": rounds, "samples_per_round": samples, "window": WINDOW,
                     "redis": "redis-server on loopback, redis-py asyncio", "ours_cap": "2 x length (keeps all)"})
    p99 = {k: percentile(v, 99) for k, v in data.items()}
    for (pattern, op, n), values in data.items():
        base = p99[(pattern, op, lengths[0])]
        result.rows.append({"pattern": pattern, "operation": op, "turns": n,
                            "p50 µs": percentile(values, 50) * 1e6, "p99 µs": p99[(pattern, op, n)] * 1e6,
                            f"p99 / p99 at {lengths[0]} turns": p99[(pattern, op, n)] / base,
                            "samples": len(values)})
    longest, shortest = lengths[-1], lengths[0]
    for op in ("fetch", "fetch+append"):
        growth = p99[("ours", op, longest)] / p99[("ours", op, shortest)]
        result.targets.append(Target(f"ours {op}: p99 at {longest} turns / p99 at {shortest}", f"<= {TARGET}",
                                     growth, growth <= TARGET))
        seed_growth = p99[("seed", op, longest)] / p99[("seed", op, shortest)]
        speedup = p99[("seed", op, longest)] / p99[("ours", op, longest)]
        result.notes.append(f"seed {op}: p99 grows {seed_growth:.2f}x from {shortest} to {longest} turns; "
                            f"at {longest} turns ours is {speedup:.1f}x faster at p99")
    result.rows.append({"pattern": "race", "operation": f"{args.writers} concurrent writers",
                        "turns": race["written"], "p50 µs": "", "p99 µs": "",
                        f"p99 / p99 at {lengths[0]} turns": "",
                        "samples": f"kept: ours {race['ours']}, seed {race['seed']}"})
    result.notes.append(f"{args.writers} concurrent writers, {race['written']} turns written: ours kept "
                        f"{race['ours']}, the seed pattern kept {race['seed']} "
                        f"({1 - race['seed'] / race['written']:.0%} lost)")
    return finish(result, pinning, args, argv)


if __name__ == "__main__":
    main()
