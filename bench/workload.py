"""The messages every agent benchmark sends, and an asyncio client that drives conversations.

The same message list feeds the agent (through HTTP) and the bare model (the serving benchmark's
forward-pass limit), so both see the same token lengths.

Usage::

    counts = asyncio.run(drive(agent.url, [f"c{i}" for i in range(1000)], concurrency=32))
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Sequence

import httpx

__all__ = ["AGENT_REPLY", "MESSAGES", "USER_MESSAGE", "drive", "message_path"]

#: Realistic customer messages (a mix of intents and lengths: 5-25 tokens).
MESSAGES: tuple[str, ...] = (
    "Hi, where is my order 48213? It was supposed to arrive yesterday.",
    "I want a refund for the blender, it stopped working after two days.",
    "Please cancel my subscription before the next billing date.",
    "How long does shipping to Lyon usually take?",
    "I was charged twice for the same order this month, can you check my invoice?",
    "I can't log in to my account, the password reset email never comes.",
    "Does the X200 headset work with a PlayStation?",
    "This is the third time my delivery is late and nobody answers my emails.",
    "Can I talk to a real person please?",
    "Hello there!",
    "Thanks, that's all I needed. Bye!",
    "My parcel says delivered but it is not at my door.",
)
#: A typical stored turn pair for the state benchmarks (same sizes as the agent's entries).
USER_MESSAGE = MESSAGES[0]
AGENT_REPLY = ("Your order 48213 left our warehouse and is with the courier; it should reach you within "
               "two working days. Is there anything else I can help with?")


def message_path(conversation_id: str) -> str:
    return f"/v1/conversations/{conversation_id}/messages"


async def drive(base_url: str, conversation_ids: Sequence[str], *, concurrency: int = 32,
                messages_per_conversation: int = 1, close: bool = False,
                extra_requests: Sequence[tuple[str, str]] = ()) -> collections.Counter[int]:
    """Send messages to every conversation (optionally close it) and the ``(method, path)`` extras.

    Returns a count of response status codes. At most ``concurrency`` requests are in flight.
    """
    counts: collections.Counter[int] = collections.Counter()
    # One script per conversation, run in order by one worker: a close never overtakes a message.
    Request = tuple[str, str, dict | None]
    scripts: asyncio.Queue[list[Request]] = asyncio.Queue()
    for i, cid in enumerate(conversation_ids):
        script: list[Request] = [("POST", message_path(cid), {"text": MESSAGES[(i + k) % len(MESSAGES)]})
                                 for k in range(messages_per_conversation)]
        if close:
            script.append(("POST", f"/v1/conversations/{cid}/close", {"outcome": "resolved"}))
        scripts.put_nowait(script)
    for method, path in extra_requests:
        scripts.put_nowait([(method, path, None)])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:

        async def worker() -> None:
            while not scripts.empty():
                for method, path, body in scripts.get_nowait():
                    for attempt in range(20):  # a 429 (queue full) is retried: we want every message in
                        response = await client.request(method, path, json=body)
                        if response.status_code != 429:
                            break
                        await asyncio.sleep(0.05 * (attempt + 1))
                    counts[response.status_code] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return counts
