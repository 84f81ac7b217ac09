"""Start-up bookkeeping: the initial sample of every agent metric, and the process start time."""

from __future__ import annotations

import os
import time

from agentwatch.agent.settings import AgentSettings
from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry.metrics import Metrics

__all__ = ["init_metrics", "process_start_time"]


def init_metrics(m: Metrics, s: AgentSettings) -> None:
    """Every closed-set series starts at 0, so rate() and dashboards work from the first scrape."""
    models = [s.model_name] + ([s.generator_name] if s.generator_model else [])
    m.allow("model", models)
    for error_class in c.ERROR_CLASSES:
        m.inc(c.ERRORS, 0, error_class=error_class)
    for outcome in c.OUTCOMES:
        m.inc(c.CONVERSATIONS_ENDED, 0, outcome=outcome)
    for reason in c.ESCALATION_REASONS:
        m.inc(c.ESCALATIONS, 0, reason=reason)
    for intent in c.INTENTS:
        m.inc(c.INTENTS_TOTAL, 0, intent=intent)
    for operation in ("classify", "warmup"):
        m.touch(c.INFERENCE_DURATION, model=s.model_name, operation=operation)
    if s.generator_model:
        m.touch(c.INFERENCE_DURATION, model=s.generator_name, operation="generate")
        m.touch(c.GENERATION_TTFT, model=s.generator_name)
        for token_type in c.TOKEN_TYPES:
            m.inc(c.GENERATION_TOKENS, 0, model=s.generator_name, token_type=token_type)
    for name in models:
        m.set(c.MODEL_LOADED, 0, model=name)
        m.set(c.MODEL_LOAD_DURATION, 0, model=name)
    m.set(c.READY, 0)
    m.set(c.COLD_START_DURATION, 0)


def process_start_time() -> float:
    """Wall-clock start of this process (Linux ``/proc``); falls back to 'now'."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return boot + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()
