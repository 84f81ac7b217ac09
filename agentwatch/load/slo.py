"""The SLO a load step must hold, read from the spec: the latency threshold and objective of the
message route's latency SLO, and the error ratio its availability SLO allows.

Usage::

    slo = MessageSLO.from_spec(load_spec("agentwatch.yaml"))
    slo.threshold, slo.objective, slo.error_ratio      # 1.0, 99.0, 0.001
"""

from __future__ import annotations

from dataclasses import dataclass

from agentwatch.spec.model import Spec

__all__ = ["MESSAGES_ROUTE", "MessageSLO"]

MESSAGES_ROUTE = "/v1/conversations/{conversation_id}/messages"


@dataclass(frozen=True)
class MessageSLO:
    """``objective`` % of messages within ``threshold`` s; at most ``error_ratio`` failed."""

    threshold: float
    objective: float
    error_ratio: float
    latency_slo: str
    availability_slo: str | None

    @classmethod
    def from_spec(cls, spec: Spec) -> MessageSLO:
        """The latency SLO on the message route (else the first latency SLO) and the availability
        SLO on the same route (none: no error budget beyond 0.1 %)."""
        latency = [s for s in spec.slos if s.sli.latency is not None]
        if not latency:
            raise ValueError("the spec has no latency SLO (slos[].sli.latency) to measure capacity against")
        chosen = next((s for s in latency if s.sli.latency and s.sli.latency.route == MESSAGES_ROUTE), latency[0])
        assert chosen.sli.latency is not None
        route = chosen.sli.latency.route
        availability = next((s for s in spec.slos if s.sli.availability is not None
                             and s.sli.availability.route == route), None)
        error_ratio = 1 - availability.objective / 100 if availability else 0.001
        return cls(chosen.sli.latency.threshold, chosen.objective, round(error_ratio, 12), chosen.name,
                   availability.name if availability else None)

    def describe(self) -> str:
        return (f"{self.objective:g}% of messages within {self.threshold:g} s ({self.latency_slo}), "
                f"at most {self.error_ratio:.2%} failed ({self.availability_slo or 'default budget'})")
