"""An application's closed label values: its intents, error classes, models, outcomes and
escalation reasons — declared once, read by the runtime guard and by every generator.

The catalogue spells the label keys and the reference agent's values; an application declares its
own values, either in its spec (``application:``, read by the generators) or with one call at
start-up (``Telemetry.declare``). The error classes the library itself answers with
(``catalogue.LIBRARY_ERROR_CLASSES``: bad_request, overloaded, internal ...) are always part of the
set, with their statuses. Plain data: importing it pulls in nothing but the catalogue.

Usage::

    sets = ClosedSets(intents=("search", "summarise"), error_classes={"tool_failed": 502},
                      models=("bm25",), outcomes=("answered", "no_answer"))
    sets.values()["error_class"]     # library classes + tool_failed
    sets.status("tool_failed")       # 502
    ClosedSets.reference()           # the reference agent's sets (the catalogue's values)
    ClosedSets.from_spec("agentwatch.yaml")   # what the spec's application: section declares
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from agentwatch.telemetry import catalogue as c

if TYPE_CHECKING:
    from agentwatch.spec.model import Spec

__all__ = ["MAX_VALUES", "ClosedSetError", "ClosedSets"]

#: Values a declared set may hold: each one is a series per metric that carries the label.
MAX_VALUES = 64
_VALUE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")


class ClosedSetError(ValueError):
    """A declared value set is invalid; the message names the set and the allowed form."""


def _names(kind: str, values: Iterable[str], pattern: re.Pattern[str] = _VALUE) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(str(v) for v in values))
    bad = [v for v in out if not pattern.match(v)]
    if bad:
        form = "lower_snake_case, at most 63 characters" if pattern is _VALUE else \
            "letters, digits and . _ : / - (a model name)"
        raise ClosedSetError(f"{kind}: invalid value(s) {bad} (allowed: {form})")
    if len(out) > MAX_VALUES:
        raise ClosedSetError(f"{kind}: {len(out)} values; a closed set holds at most {MAX_VALUES}")
    return out


def _statuses(classes: Mapping[str, int]) -> dict[str, int]:
    names = _names("error_classes", classes)
    out = {}
    for name in names:
        status = classes[name]
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise ClosedSetError(f"error_classes: {name}: status {status!r} is not an HTTP error status "
                                 "(allowed: 400-599)")
        library = c.LIBRARY_ERROR_CLASSES.get(name)
        if library is not None and library != status:
            raise ClosedSetError(f"error_classes: {name} is a library class answered with {library}; "
                                 f"it cannot be redeclared as {status}")
        out[name] = status
    return out


@dataclass(frozen=True)
class ClosedSets:
    """The values of every declarable label (``catalogue.DECLARABLE_LABELS``) of one application.

    ``error_classes`` maps each class the application raises to its HTTP status; the library's own
    classes are added by :meth:`error_status`. ``models`` may stay empty when the model names are
    configured at run time (``Metrics.allow("model", ...)``).
    """

    intents: tuple[str, ...] = ()
    error_classes: Mapping[str, int] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    escalation_reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "intents", _names("intents", self.intents))
        object.__setattr__(self, "models", _names("models", self.models, _MODEL))
        object.__setattr__(self, "outcomes", _names("outcomes", self.outcomes))
        object.__setattr__(self, "escalation_reasons", _names("escalation_reasons", self.escalation_reasons))
        object.__setattr__(self, "error_classes", MappingProxyType(_statuses(self.error_classes)))

    @classmethod
    def reference(cls) -> ClosedSets:
        """The reference agent's sets: the catalogue's values (models are configured at run time)."""
        own = {k: v for k, v in c.ERROR_CLASS_STATUS.items() if k not in c.LIBRARY_ERROR_CLASSES}
        return cls(intents=c.INTENTS, error_classes=own, outcomes=c.OUTCOMES,
                   escalation_reasons=c.ESCALATION_REASONS)

    @classmethod
    def from_spec(cls, spec: str | Path | Spec) -> ClosedSets:
        """The sets a spec declares (``application:``), from its file or the loaded ``Spec``: the
        values the generators read are then the values the process records. A bad spec raises
        ``agentwatch.spec.SpecError`` naming file, line and field."""
        from agentwatch.spec import load_spec

        loaded = load_spec(spec) if isinstance(spec, str | Path) else spec
        return loaded.closed_sets

    @property
    def error_status(self) -> Mapping[str, int]:
        """Every error class the application can answer with (the library's first) → HTTP status."""
        return MappingProxyType({**c.LIBRARY_ERROR_CLASSES, **self.error_classes})

    def status(self, error_class: str) -> int:
        """The HTTP status of ``error_class``; ``KeyError`` naming the declared ones otherwise."""
        try:
            return self.error_status[error_class]
        except KeyError:
            raise KeyError(f"error class {error_class!r} is not declared "
                           f"(declared: {', '.join(self.error_status)})") from None

    def values(self) -> dict[str, tuple[str, ...]]:
        """Label name → its closed values, for every declarable label."""
        fields = {"intents": self.intents, "error_classes": tuple(self.error_status), "models": self.models,
                  "outcomes": self.outcomes, "escalation_reasons": self.escalation_reasons}
        return {label: fields[name] for name, label in c.DECLARABLE_LABELS.items()}
