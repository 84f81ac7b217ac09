"""Replies and escalation rules: pure functions, table-driven."""

from __future__ import annotations

import pytest

from agentwatch.agent.dialogue import Policy, build_prompt, extract_order, respond
from agentwatch.agent.state import Snapshot
from agentwatch.telemetry import catalogue as c

POLICY = Policy(low_confidence=0.35, low_confidence_turns=3, complaint_limit=2, max_turns=5)


def snap(**meta: object) -> Snapshot:
    return Snapshot(bool(meta), {k: str(v) for k, v in meta.items()}, [])


@pytest.mark.parametrize(("text", "order"), [
    ("where is order 12345?", "12345"),
    ("my order #a98765 never came", "A98765"),
    ("order 1234 or rather 55555", "55555"),
    ("I called 3 times", None),
    ("my card ends in 12", None),
], ids=["a plain number", "a hash-prefixed code is upper-cased", "the last mentioned wins",
        "short numbers are not orders", "two digits are not an order"])
def test_order_numbers_are_extracted_from_the_text(text, order):
    assert extract_order(text) == order


@pytest.mark.parametrize(("intent", "confidence", "meta", "reason"), [
    ("human_agent", 0.8, {}, "user_request"),
    ("human_agent", 0.2, {}, None),
    ("complaint", 0.7, {"complaints": 1}, "repeated_complaint"),
    ("complaint", 0.7, {}, None),
    ("other", 0.1, {"low_streak": 2}, "low_confidence"),
    ("other", 0.1, {"low_streak": 1}, None),
    ("greeting", 0.9, {"user_turns": 4}, "max_turns"),
    ("greeting", 0.9, {"user_turns": 3}, None),
    ("human_agent", 0.9, {"escalation_reason": "max_turns"}, None),
], ids=[
    "asking for a human escalates", "an unsure guess of 'human' does not escalate",
    "the second complaint escalates", "the first complaint does not",
    "the third low-confidence turn in a row escalates", "the second does not",
    "the max-th user turn escalates", "a turn before the max does not",
    "an escalated conversation never escalates again",
])
def test_escalation_rules(intent, confidence, meta, reason):
    decision = respond(intent, confidence, "text", snap(**meta), POLICY)
    assert decision.escalate == reason
    assert decision.escalate is None or decision.escalate in c.ESCALATION_REASONS
    assert decision.escalated == (reason is not None or "escalation_reason" in meta)


def test_an_order_number_mentioned_earlier_is_used_in_a_later_reply():
    decision = respond("order_status", 0.7, "any news?", snap(order="48213", user_turns=1), POLICY)
    assert "48213" in decision.reply and decision.order is None
    first = respond("order_status", 0.7, "where is 77777", snap(), POLICY)
    assert "77777" in first.reply and first.order == "77777"
    asked = respond("order_status", 0.7, "where is my stuff", snap(), POLICY)
    assert "order number" in asked.reply


def test_low_confidence_asks_to_rephrase_and_escalated_conversations_say_a_human_has_it():
    unsure = respond("billing", 0.2, "blorp", snap(), POLICY)
    assert unsure.low_confidence and "rephrase" in unsure.reply
    handed = respond("billing", 0.9, "hello?", snap(escalation_reason="user_request"), POLICY)
    assert handed.escalated and handed.escalate is None and "team" in handed.reply


@pytest.mark.parametrize("intent", c.INTENTS)
def test_every_intent_has_a_reply(intent):
    assert respond(intent, 0.9, "text", snap(), Policy(max_turns=99)).reply


def test_the_generator_prompt_holds_recent_turns_and_the_grounded_answer():
    turns = [{"role": "user", "text": "hi"}, {"role": "agent", "text": "hello"}]
    prompt = build_prompt(turns, "where is 12345", "order_status", "it is at the depot")
    assert prompt.endswith("Customer: where is 12345\nAgent:")
    assert "Customer: hi\nAgent: hello" in prompt and "it is at the depot" in prompt


@pytest.mark.parametrize(("intent", "confidence", "text", "meta", "followup", "reply_has"), [
    ("other", 0.5, "and when will it get here?", {"topic": "order_status", "order": "48213"}, True, "48213"),
    ("billing", 0.1, "what about that one?", {"topic": "refund", "order": "55102"}, True, "refund"),
    ("other", 0.5, "and when will it get here?", {"topic": "greeting"}, False, "What do you need"),
    ("other", 0.1, "so what do you think about the weather in the mountains this weekend then",
     {"topic": "order_status"}, False, "rephrase"),
    ("shipping", 0.8, "how much is express?", {"topic": "order_status"}, False, "express"),
], ids=["an unclear follow-up continues the order topic", "a low-confidence follow-up continues a refund",
        "small talk is no topic to continue", "a long unclear message is not a follow-up",
        "a clear new intent wins over the topic"])
def test_short_unclear_follow_ups_continue_the_conversation_topic(intent, confidence, text, meta, followup,
                                                                   reply_has):
    decision = respond(intent, confidence, text, snap(**meta), POLICY)
    assert decision.followup is followup
    assert reply_has in decision.reply
    assert not (followup and decision.low_confidence), "an answered follow-up is not 'not understood'"
