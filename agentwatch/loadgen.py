"""Scripted customer conversations against the reference agent's API.

Used by ``make demo``, the live tests and the compose stack's load generator, so every one of them
exercises the same paths: resolved, escalated (each reason) and abandoned conversations, plus a
share of bad requests. Deterministic for a given seed.

Usage::

    stats = asyncio.run(run_load(["http://127.0.0.1:8000"], duration=30, rate=20))
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

__all__ = ["PERSONAS", "LoadStats", "Persona", "main", "run_conversation", "run_load"]


@dataclass(frozen=True)
class Persona:
    """A scripted conversation: user messages in order, then how the user closes it (or not)."""

    name: str
    messages: tuple[str, ...]
    #: How the conversation is closed: "resolved", "abandoned", or None (left open to expire).
    #: Closing an escalated conversation records outcome "escalated", whatever is asked.
    close: str | None
    weight: float = 1.0


PERSONAS: tuple[Persona, ...] = (
    Persona("order_status", ("Hi there", "Where is my order #48213? It hasn't arrived yet.",
                             "Thanks, that's all I needed."), "resolved", 4),
    Persona("refund", ("I'd like a refund for the blender I bought last week",
                       "It arrived broken, can I get my money back?", "Great, thank you!"), "resolved", 2),
    Persona("billing", ("Why was I charged twice on my credit card this month?",
                        "OK, thanks for checking"), "resolved", 2),
    Persona("shipping", ("How long does shipping to Canada take?", "Do you ship express?"), "resolved", 2),
    Persona("cancel", ("Please cancel my subscription", "Yes, cancel it today"), "resolved", 1),
    Persona("account", ("I can't log in to my account, the password reset email never arrives",),
            "abandoned", 1),
    Persona("human", ("This is useless, let me talk to a real person",), "resolved", 1),
    Persona("complaint", ("Your service is terrible, my package was damaged",
                          "This is unacceptable, I am very unhappy with the damaged item",
                          "I'm still waiting and I'm furious about this awful service"), "resolved", 1),
    Persona("browser", ("Does the X200 vacuum work on carpets?",), "abandoned", 1),
)

#: Requests the API must refuse with a 4xx: (method, path, json body or raw bytes).
BAD_REQUESTS: tuple[tuple[str, str, object], ...] = (
    ("POST", "/v1/conversations/bad id with spaces/messages", {"text": "hi"}),
    ("POST", "/v1/conversations/{cid}/messages", {"text": ""}),
    ("POST", "/v1/conversations/{cid}/messages", {"txt": "wrong field"}),
    ("POST", "/v1/conversations/{cid}/messages", b"{not json"),
    ("GET", "/v1/conversations/never-seen-{cid}", None),
    ("POST", "/v1/conversations/{cid}/close", {"outcome": "maybe"}),
)


@dataclass
class LoadStats:
    """What a load run did: requests by status code, conversations by persona, latencies."""

    codes: Counter[int] = field(default_factory=Counter)
    personas: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    transport_errors: int = 0

    @property
    def requests(self) -> int:
        return sum(self.codes.values())


async def _request(client: httpx.AsyncClient, stats: LoadStats, method: str, url: str,
                   body: object = None) -> httpx.Response | None:
    start = time.perf_counter()
    try:
        if isinstance(body, bytes):
            response = await client.request(method, url, content=body,
                                            headers={"content-type": "application/json"})
        else:
            response = await client.request(method, url, json=body)
    except httpx.HTTPError:
        stats.transport_errors += 1
        return None
    stats.latencies.append(time.perf_counter() - start)
    stats.codes[response.status_code] += 1
    return response


async def run_conversation(client: httpx.AsyncClient, base_url: str, persona: Persona,
                           stats: LoadStats, think_time: float = 0.0) -> str:
    """Play one persona against ``base_url``; returns the conversation id."""
    cid = f"{persona.name}-{uuid.uuid4().hex[:12]}"
    for text in persona.messages:
        response = await _request(client, stats, "POST", f"{base_url}/v1/conversations/{cid}/messages",
                                  {"text": text})
        if response is not None and response.status_code == 200 and response.json().get("escalated"):
            break
        if think_time:
            await asyncio.sleep(think_time)
    if persona.close:
        await _request(client, stats, "POST", f"{base_url}/v1/conversations/{cid}/close",
                       {"outcome": persona.close})
    stats.personas[persona.name] += 1
    return cid


async def _bad_request(client: httpx.AsyncClient, base_url: str, rng: random.Random, stats: LoadStats) -> None:
    method, path, body = rng.choice(BAD_REQUESTS)
    await _request(client, stats, method, base_url + path.format(cid=uuid.uuid4().hex[:8]), body)


async def run_load(base_urls: Sequence[str], duration: float, rate: float, *, concurrency: int = 16,
                   bad_request_share: float = 0.05, seed: int = 7, think_time: float = 0.0,
                   stop: asyncio.Event | None = None) -> LoadStats:
    """Start ``rate`` conversations per second for ``duration`` seconds, spread over ``base_urls``
    round-robin (so consecutive turns can hit different instances only across conversations)."""
    rng = random.Random(seed)
    stats = LoadStats()
    weights = [p.weight for p in PERSONAS]
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        n = 0
        while time.monotonic() < deadline and not (stop and stop.is_set()):
            base_url = base_urls[n % len(base_urls)]
            n += 1
            await slots.acquire()

            async def one(base_url: str = base_url) -> None:
                try:
                    if rng.random() < bad_request_share:
                        await _bad_request(client, base_url, rng, stats)
                    else:
                        persona = rng.choices(PERSONAS, weights)[0]
                        await run_conversation(client, base_url, persona, stats, think_time)
                finally:
                    slots.release()

            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await asyncio.sleep(1.0 / rate if rate > 0 else 0)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
    return stats


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m agentwatch.loadgen --url http://agent-a:8000 --url http://agent-b:8000``.

    Waits up to ``--wait`` seconds for every ``/readyz``, runs the load, prints a JSON summary.
    Exit code 1 when no request got an HTTP answer.
    """
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m agentwatch.loadgen",
                                     description="Scripted customer conversations against agentwatch agents.")
    parser.add_argument("--url", action="append", required=True, help="agent base URL (repeatable)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to run (default 60)")
    parser.add_argument("--rate", type=float, default=5.0, help="conversations started per second (default 5)")
    parser.add_argument("--concurrency", type=int, default=16, help="conversations in flight at most (default 16)")
    parser.add_argument("--bad-request-share", type=float, default=0.05, help="share of 4xx probes (default 0.05)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the agents to be ready")
    args = parser.parse_args(argv)
    for name, value, low in (("--duration", args.duration, 0.0), ("--rate", args.rate, 0.0)):
        if value <= low:
            parser.error(f"{name} must be greater than 0, got {value:g}")
    if not 0.0 <= args.bad_request_share <= 1.0:
        parser.error(f"--bad-request-share must be between 0 and 1, got {args.bad_request_share:g}")
    if args.concurrency < 1:
        parser.error(f"--concurrency must be at least 1, got {args.concurrency}")
    urls = [u.rstrip("/") for u in args.url]

    async def ready() -> None:
        deadline = time.monotonic() + args.wait
        async with httpx.AsyncClient(timeout=2.0) as client:
            for url in urls:
                while True:
                    try:
                        if (await client.get(f"{url}/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() >= deadline:
                        raise SystemExit(f"{url}/readyz did not answer 200 within {args.wait:g}s")
                    await asyncio.sleep(1.0)

    if args.wait > 0:
        asyncio.run(ready())
    stats = asyncio.run(run_load(urls, args.duration, args.rate, concurrency=args.concurrency,
                                 bad_request_share=args.bad_request_share, seed=args.seed))
    latencies = sorted(stats.latencies)
    print(json.dumps({"requests": stats.requests, "codes": {str(k): v for k, v in sorted(stats.codes.items())},
                      "personas": dict(sorted(stats.personas.items())), "transport_errors": stats.transport_errors,
                      "p50_seconds": latencies[len(latencies) // 2] if latencies else None}), flush=True)
    return 0 if stats.requests else 1


if __name__ == "__main__":
    raise SystemExit(main())
