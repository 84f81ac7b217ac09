"""Closed label value sets: the guard that keeps user-controlled strings out of metric labels."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from agentwatch.telemetry.catalogue import LABELS, OTHER

__all__ = ["UNMATCHED_ROUTE", "LabelPolicy"]

#: ``route`` value for requests no route template matched (scanners, typos, hostile paths).
UNMATCHED_ROUTE = "unmatched"


class LabelPolicy:
    """Checks label values against their closed sets.

    Sets fixed in the catalogue are used as they are (the declarable ones — intents, error classes,
    outcomes, escalation reasons — until an application :meth:`declare` s its own); per-process sets
    (``route``, ``model``, ``version``) start with ``other`` (and ``unmatched`` for routes) and grow
    only through :meth:`allow`. Start-up code calls both — never request handling.
    """

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self._lock = threading.Lock()
        self._allowed: dict[str, frozenset[str]] = {
            name: frozenset((*label.values, OTHER)) if label.values is not None else frozenset({OTHER})
            for name, label in LABELS.items()
        }
        self.allow("route", [UNMATCHED_ROUTE])

    def allow(self, label: str, values: Iterable[str]) -> None:
        if label not in self._allowed:
            raise KeyError(f"label {label!r} is not in the catalogue")
        with self._lock:
            self._allowed[label] = self._allowed[label] | frozenset(values)

    def declare(self, label: str, values: Iterable[str]) -> None:
        """Replace the set of ``label`` with ``values`` (plus ``other``): an application's own values."""
        if label not in self._allowed:
            raise KeyError(f"label {label!r} is not in the catalogue")
        with self._lock:
            self._allowed[label] = frozenset((*values, OTHER))

    def allowed(self, label: str) -> frozenset[str]:
        return self._allowed[label]

    def check(self, metric_name: str, labels: Mapping[str, str],
              expected: tuple[str, ...]) -> tuple[str, ...]:
        """Return label values in ``expected`` order, each inside its closed set."""
        if len(labels) != len(expected) or any(name not in labels for name in expected):
            raise ValueError(f"{metric_name} takes labels {list(expected)}, got {sorted(labels)}")
        values = []
        for name in expected:
            value = str(labels[name])
            if value not in self._allowed[name]:
                if self.strict:
                    raise ValueError(
                        f"{metric_name}: {name}={value!r} is outside the closed set "
                        f"({len(self._allowed[name])} values); register it with allow() at start-up"
                    )
                value = OTHER
            values.append(value)
        return tuple(values)
