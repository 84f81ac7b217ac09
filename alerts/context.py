"""What every generator stage shares: the spec, the time scale, and per-SLO names and labels.

Rule and group names come from ``conventions``; durations pass through ``Context.d`` so a
``--time-scale`` run shrinks every window while names and ``sloth_window`` labels stay real.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from agentwatch import promql as q
from agentwatch.alerts import conventions as cv
from agentwatch.alerts.windows import scale
from agentwatch.spec.model import SLO, Spec

__all__ = ["Context", "Rule", "camel", "decimal_text", "group"]

Rule = dict[str, Any]


def camel(name: str) -> str:
    """``messages-availability`` → ``MessagesAvailability``."""
    return "".join(part.capitalize() for part in re.split(r"[-_]", name) if part)


def decimal_text(value: Decimal) -> str:
    """A decimal as PromQL number text without float noise (``0.001``, ``14.4``, ``30``)."""
    text = format(value.normalize(), "f")
    return text


def group(name: str, rules: list[Rule], interval: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if interval:
        body["interval"] = interval
    body["rules"] = rules
    return body


@dataclass(frozen=True)
class Context:
    """Inputs of one generation run."""

    spec: Spec
    time_scale: int = 1

    def d(self, duration: str) -> str:
        """A window or ``for`` duration as written into the rules (divided by the time scale)."""
        return scale(duration, self.time_scale)

    @property
    def interval(self) -> str | None:
        """Group evaluation interval: the global default, or 1s when time-scaled for a demo."""
        return "1s" if self.time_scale > 1 else None

    # --- per-SLO names ----------------------------------------------------------------------

    def sloth_id(self, slo: SLO) -> str:
        return self.spec.sloth_id(slo)

    def slo_labels(self, slo: SLO) -> dict[str, str]:
        """Labels of every rule of ``slo``: user labels, then the Sloth identity labels."""
        labels = {**self.spec.service.labels, **slo.labels}
        labels.update({cv.LABEL_ID: self.sloth_id(slo), cv.LABEL_SERVICE: self.spec.service.name,
                       cv.LABEL_SLO: slo.name})
        return dict(sorted(labels.items()))

    def slo_selector(self, slo: SLO) -> str:
        """Selector body picking this SLO's recorded series."""
        return q.selector(**{cv.LABEL_ID: self.sloth_id(slo), cv.LABEL_SERVICE: self.spec.service.name,
                             cv.LABEL_SLO: slo.name})

    def sli_selector(self, slo: SLO) -> str:
        """Selector body of the SLI's raw requests: service matchers, then the SLI's own."""
        sli = slo.sli.availability or slo.sli.latency
        own = sli.matchers() if sli else {}
        return q.selector(**{**self.spec.service.selector, **own})

    def kpi_selector(self, **extra: str) -> str:
        return q.selector(**{**self.spec.service.selector, **extra})
