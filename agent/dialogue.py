"""Replies and escalation: pure functions of the message, its intent and the conversation so far.

Escalation to a human (one ``reason`` from ``c.ESCALATION_REASONS``, decided once per conversation):

* ``user_request`` — the user asks for a human (intent ``human_agent`` with confidence);
* ``repeated_complaint`` — the ``complaint_limit``-th complaint;
* ``low_confidence`` — ``low_confidence_turns`` consecutive messages below the confidence threshold;
* ``max_turns`` — the ``max_turns``-th user turn without resolution.

Context: an order number mentioned earlier is used in later replies, and a short follow-up the
model cannot place ("and when will it get here?") continues the conversation's current topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agentwatch.agent.state import Snapshot

__all__ = ["Decision", "Policy", "build_prompt", "extract_order", "respond"]

#: Topics a short, unclear follow-up message continues (they need an order or a case).
FOLLOWUP_TOPICS = frozenset({"order_status", "refund", "cancellation", "shipping", "billing"})
#: A follow-up is short; a long unclear message is a new, not-understood request.
FOLLOWUP_MAX_WORDS = 8

_ORDER = re.compile(r"(?<![\w-])#?([A-Za-z]{0,3}\d{4,12})(?![\w-])")


@dataclass(frozen=True)
class Policy:
    low_confidence: float = 0.32
    low_confidence_turns: int = 3
    complaint_limit: int = 2
    max_turns: int = 20


@dataclass(frozen=True)
class Decision:
    reply: str
    escalate: str | None        # reason, when this message escalates the conversation
    escalated: bool             # the conversation is (now or already) with a human
    low_confidence: bool
    complaint: bool
    order: str | None           # an order number first mentioned in this message
    topic: str | None = None    # the intent the reply answered, kept as context for follow-ups
    followup: bool = False      # an unclear message answered from the conversation's topic


def extract_order(text: str) -> str | None:
    """The last order-number-looking token in ``text`` (``12345``, ``#A12345``), upper-cased."""
    found = _ORDER.findall(text)
    return found[-1].upper() if found else None


_SHIPPING_STATES = ("left our warehouse and is with the courier", "is packed and ships today",
                    "is out for delivery", "is at the local depot")

_HANDOFF = {
    "user_request": "Of course. I'm handing this conversation to a member of our support team; "
                    "they'll reply here shortly.",
    "repeated_complaint": "I'm sorry this keeps going wrong. I've passed your conversation to a senior "
                          "colleague who can sort it out; they'll reply here shortly.",
    "low_confidence": "I'm sorry I'm not understanding you well. I've asked a colleague to take over; "
                      "they'll reply here shortly.",
    "max_turns": "This is taking longer than it should. I've brought in a colleague to help; "
                 "they'll reply here shortly.",
}
_WITH_HUMAN = "A member of our team has this conversation and will reply here shortly."
_CLARIFY = ("Sorry, I didn't quite get that. I can help with orders, refunds, cancellations, shipping, "
            "billing, your account and product questions. Could you rephrase?")


def _template(intent: str, order: str | None, complaints: int) -> str:
    ref = f"order {order}" if order else None
    if intent == "order_status":
        if ref:
            state = _SHIPPING_STATES[sum(map(ord, order or "")) % len(_SHIPPING_STATES)]
            return f"I've looked up {ref}: it {state}. You'll get a tracking email with every update."
        return "I can check that for you. What is your order number?"
    if intent == "refund":
        if ref:
            return (f"I've opened a refund for {ref}. The money reaches your original payment method "
                    "within 5-7 business days of the return arriving.")
        return "I can help with a refund. Which order is it about? Please share the order number."
    if intent == "cancellation":
        if ref:
            return (f"I've requested cancellation of {ref}. If it hasn't shipped yet you'll get a "
                    "confirmation email within the hour.")
        return "I can cancel that for you. What is the order or subscription number?"
    return {
        "shipping": "Standard delivery takes 3-5 business days and is free over 50 EUR; express "
                    "takes 1-2 days. We ship to most of Europe and North America.",
        "billing": "I'm sorry about the billing trouble. I've flagged it for our billing team"
                   + (f" with {ref}" if ref else "") + "; you'll get an answer by email within 24 hours.",
        "account": "You can reset your password and update your email or phone under Account > "
                   "Security. I've also sent a reset link to the address on file.",
        "product_question": "Good question. Each product page lists sizes, materials, compatibility and "
                            "warranty; tell me the product and I'll check the details for you.",
        "complaint": "I'm really sorry about this experience. I've recorded your feedback"
                     + (f" about {ref}" if ref else "") + ". Could you tell me what happened?"
                     if complaints == 0 else "I'm sorry, I understand this is frustrating.",
        "human_agent": "I can connect you to a colleague. Could you first tell me what it's about?",
        "greeting": "Hello! I'm the virtual assistant. How can I help you today?",
        "goodbye": "Thanks for contacting us. Have a great day!",
        "other": "I can help with orders, refunds, cancellations, shipping, billing, your account and "
                 "product questions. What do you need?",
    }[intent]


def respond(intent: str, confidence: float, text: str, snapshot: Snapshot, policy: Policy) -> Decision:
    """Decide the reply and whether this message escalates the conversation."""
    low = confidence < policy.low_confidence
    topic = snapshot.meta.get("topic")
    followup = ((low or intent == "other") and topic in FOLLOWUP_TOPICS
                and len(text.split()) <= FOLLOWUP_MAX_WORDS)
    if followup:
        intent, low = str(topic), False
    complaint = intent == "complaint" and not low
    new_order = extract_order(text)
    order = new_order or snapshot.meta.get("order") or None
    already = bool(snapshot.meta.get("escalation_reason"))
    reason: str | None = None
    if not already:
        if intent == "human_agent" and not low:
            reason = "user_request"
        elif complaint and snapshot.number("complaints") + 1 >= policy.complaint_limit:
            reason = "repeated_complaint"
        elif low and snapshot.number("low_streak") + 1 >= policy.low_confidence_turns:
            reason = "low_confidence"
        elif snapshot.number("user_turns") + 1 >= policy.max_turns:
            reason = "max_turns"
    if reason:
        reply = _HANDOFF[reason]
    elif already:
        reply = _WITH_HUMAN
    elif low:
        reply = _CLARIFY
    else:
        reply = _template(intent, order, snapshot.number("complaints"))
    return Decision(reply, reason, already or reason is not None, low, complaint, new_order,
                    topic=None if low else intent, followup=followup)


def build_prompt(turns: list[dict[str, Any]], text: str, intent: str, hint: str) -> str:
    """Prompt for a generative backend: recent turns, the new message and the grounded answer."""
    lines = ["You are a helpful customer-service agent. Answer briefly and politely.",
             f"Detected intent: {intent}. Facts to use: {hint}", ""]
    for turn in turns:
        lines.append(f"{'Customer' if turn.get('role') == 'user' else 'Agent'}: {turn.get('text', '')}")
    lines += [f"Customer: {text}", "Agent:"]
    return "\n".join(lines)
