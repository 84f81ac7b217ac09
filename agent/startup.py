"""Start-up bookkeeping the library does not know about: the reference agent's own series.

The closed sets (error classes, outcomes, escalation reasons, intents) start at 0 through
``Telemetry.declare``; model load, readiness and cold-start gauges through
``agentwatch.telemetry.Readiness``; the inference queue's through ``agentwatch.telemetry.Batcher``.
What is left is the optional generator's series.
"""

from __future__ import annotations

from agentwatch.agent.settings import AgentSettings
from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry.metrics import Metrics

__all__ = ["init_generator_metrics"]


def init_generator_metrics(m: Metrics, s: AgentSettings) -> None:
    """The generator's series start empty or at 0, so rate() and dashboards work from the first scrape."""
    if not s.generator_model:
        return
    m.allow("model", [s.generator_name])
    m.touch(c.INFERENCE_DURATION, model=s.generator_name, operation="generate")
    m.touch(c.GENERATION_TTFT, model=s.generator_name)
    for token_type in c.TOKEN_TYPES:
        m.inc(c.GENERATION_TOKENS, 0, model=s.generator_name, token_type=token_type)
