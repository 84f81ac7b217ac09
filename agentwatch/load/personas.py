"""The customers of the support queue: who they are, what they type, and how their conversation ends.

Pure data, no I/O: the Locust users in :mod:`agentwatch.load.locustfile` play these scripts, and
the summary checks the outcomes the agent recorded against :func:`expected_outcome`. The mix
(``weight``) is what a support queue sees: mostly order status, refunds and billing, some
complaints that escalate, people asking for a human, and some who abandon.

Every text was checked against the real intent model: the escalating personas escalate for the
reason in ``escalates``, the others do not.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "PERSONAS",
    "PROBES",
    "Persona",
    "Probe",
    "expected_outcome",
    "persona_by_name",
    "user_class_name",
]

Close = Literal["resolved", "abandoned"]


@dataclass(frozen=True)
class Persona:
    """One kind of customer: the messages in order, then how the conversation is closed.

    ``close`` is what the chat front end sends at the end (``None``: nothing, the customer just
    leaves and the conversation expires). ``close_share`` of the conversations are closed, the
    rest are left open. After an escalation the customer stops talking to the bot; the human who
    takes over closes it as ``resolved``, which the agent records as ``escalated``.
    """

    name: str
    messages: tuple[str, ...]
    weight: int
    close: Close | None = "resolved"
    close_share: float = 1.0
    escalates: str | None = None  # the escalation reason this script triggers

    def script(self, rng: random.Random) -> list[str]:
        """The messages with a fresh order number (``{order}``) per conversation."""
        order = str(rng.randint(10000, 99999))
        return [text.format(order=order) for text in self.messages]

    def closes(self, rng: random.Random) -> bool:
        return self.close is not None and rng.random() < self.close_share


PERSONAS: tuple[Persona, ...] = (
    Persona("order_status", ("Hi there", "Where is my order #{order}? It hasn't arrived yet.",
                             "And when will it get here?", "Thanks, that's all I needed."), 5),
    Persona("refund", ("I'd like a refund for the blender I bought last week",
                       "It arrived broken, can I get my money back?", "Great, thank you!"), 3),
    Persona("billing", ("Why was I charged twice on my credit card this month?", "OK, thanks for checking"), 3),
    Persona("shipping", ("How long does shipping to Canada take?", "Do you ship express?"), 2),
    Persona("cancellation", ("Please cancel my subscription", "Yes, cancel it today"), 1),
    Persona("complaint", ("Your service is terrible, my package was damaged",
                          "This is unacceptable, I am very unhappy with the damaged item",
                          "I'm still waiting and I'm furious about this awful service"), 2,
            escalates="repeated_complaint"),
    Persona("wants_human", ("This is useless, let me talk to a real person",), 1, escalates="user_request"),
    Persona("confused", ("what is the capital of peru", "my neighbour plays the tuba", "the cat sat on the mat"),
            1, escalates="low_confidence"),
    # Walks away after one message: the chat widget closes half of these on its idle timeout.
    Persona("abandons", ("I can't log in to my account, the password reset email never arrives",), 2,
            close="abandoned", close_share=0.5),
    Persona("browser", ("Does the X200 vacuum work on carpets?",), 1, close=None),
)


def persona_by_name(name: str) -> Persona:
    for persona in PERSONAS:
        if persona.name == name:
            return persona
    raise KeyError(f"no persona {name!r} (allowed: {', '.join(p.name for p in PERSONAS)})")


def user_class_name(persona: Persona) -> str:
    """The persona's Locust user class name: ``order_status`` → ``OrderStatus``."""
    return "".join(part.title() for part in persona.name.split("_"))


def expected_outcome(escalated: bool, closed_as: str | None) -> str | None:
    """The outcome the agent must record: an escalated conversation ends ``escalated``, whatever is sent."""
    if closed_as is None:
        return None
    return "escalated" if escalated else closed_as


@dataclass(frozen=True)
class Probe:
    """A request a broken client sends, and the 4xx error class the API must answer with."""

    name: str
    method: str
    path: str  # ``{cid}`` is a fresh conversation id
    body: object  # JSON body, or raw bytes
    status: int
    error_class: str


PROBES: tuple[Probe, ...] = (
    Probe("probe: bad id", "POST", "/v1/conversations/bad.id/messages", {"text": "hi"}, 400, "bad_request"),
    Probe("probe: empty text", "POST", "/v1/conversations/{cid}/messages", {"text": ""}, 400, "bad_request"),
    Probe("probe: wrong field", "POST", "/v1/conversations/{cid}/messages", {"txt": "hi"}, 400, "bad_request"),
    Probe("probe: not json", "POST", "/v1/conversations/{cid}/messages", b"{not json", 400, "bad_request"),
    Probe("probe: unknown conversation", "GET", "/v1/conversations/never-seen-{cid}", None, 404,
          "context_not_found"),
    Probe("probe: bad outcome", "POST", "/v1/conversations/{cid}/close", {"outcome": "maybe"}, 400, "bad_request"),
)
