"""Fault injection for demos and alert tests: off unless the environment switches it on.

``AGENT_FAULT_LATENCY_MS`` adds latency to a fraction ``AGENT_FAULT_LATENCY_RATIO`` of message
requests; ``AGENT_FAULT_ERROR_RATIO`` answers a fraction of them with a real 500
(``injected_fault``), so SLOs burn on purpose and the alerts can be seen firing.
"""

from __future__ import annotations

import asyncio
import random

from agentwatch.agent.errors import AgentError

__all__ = ["FaultInjector"]


class FaultInjector:
    """Applies the configured faults to one request; ``rng`` is injectable for tests."""

    def __init__(self, *, error_ratio: float = 0.0, latency_ms: float = 0.0, latency_ratio: float = 1.0,
                 rng: random.Random | None = None) -> None:
        self.error_ratio, self.latency_s, self.latency_ratio = error_ratio, latency_ms / 1000, latency_ratio
        self.rng = rng or random.Random()

    @property
    def active(self) -> bool:
        return self.error_ratio > 0 or (self.latency_s > 0 and self.latency_ratio > 0)

    async def apply(self) -> None:
        """Sleep and/or raise ``injected_fault`` according to the configured ratios."""
        if self.latency_s > 0 and self.rng.random() < self.latency_ratio:
            await asyncio.sleep(self.latency_s)
        if self.error_ratio > 0 and self.rng.random() < self.error_ratio:
            raise AgentError("injected_fault", "injected fault (AGENT_FAULT_ERROR_RATIO is set)")
