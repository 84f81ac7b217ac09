"""What the Sloth and OpenSLO importers share: the result type, validation and YAML output.

An importer never drops a field silently: whatever has no agentwatch equivalent becomes a
:class:`Skipped` naming its path in the foreign file and, in one line, why. The CLI prints each as
``FILE:LINE: path: not converted: reason`` and exits 1 unless ``--allow-partial`` accepts the loss;
the converted spec lists them in its header comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from agentwatch.spec.loader import Issue, Path_, SpecError, format_path
from agentwatch.spec.model import Spec, spec_issues

__all__ = ["ImportResult", "Skipped", "build_spec", "dump_spec", "unknown_keys"]

#: Reason given for a key the importer does not know at all.
UNKNOWN = "not a field agentwatch knows, so it has no equivalent"


@dataclass(frozen=True)
class Skipped:
    """A foreign field (or a whole SLO) that was not converted, and why."""

    path: Path_
    reason: str

    def __str__(self) -> str:
        return f"{format_path(self.path)}: {self.reason}"


@dataclass
class ImportResult:
    spec: Spec
    skipped: list[Skipped] = field(default_factory=list)
    #: Line of every key path of the foreign file, to point at each skipped field.
    lines: dict[Path_, int] = field(default_factory=dict)

    def messages(self, file: str) -> list[str]:
        """``FILE:LINE: path: not converted: reason``, one per skipped field."""
        return [f"{file}:{_line(self.lines, s.path)}: {format_path(s.path)}: not converted: {s.reason}"
                for s in self.skipped]


def _line(lines: Mapping[Path_, int], path: Path_) -> int:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def unknown_keys(data: Any, known: set[str], path: Path_, skipped: list[Skipped],
                 reasons: Mapping[str, str] | None = None) -> None:
    """Record every key of mapping ``data`` outside ``known``, with its reason (``reasons``) or UNKNOWN."""
    if isinstance(data, dict):
        for key in data:
            if key not in known:
                skipped.append(Skipped((*path, key), (reasons or {}).get(key, UNKNOWN)))


def build_spec(data: dict, file: str, lines: dict[Path_, int], origin: dict[int, Path_]) -> Spec:
    """Validate converted data; errors point at the foreign SLO they came from (``origin``)."""
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        issues = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            issues.append(_issue(file, lines, origin, loc, error["msg"].removeprefix("Value error, ")))
        raise SpecError(issues) from None
    problems = spec_issues(spec)
    if problems:
        raise SpecError(_issue(file, lines, origin, loc, msg) for loc, msg in problems)
    return spec


def _issue(file: str, lines: dict[Path_, int], origin: dict[int, Path_], loc: Path_, msg: str) -> Issue:
    foreign: Path_ = origin.get(loc[1], ()) if loc[:1] == ("slos",) and len(loc) > 1 else ()  # type: ignore[call-overload]
    return Issue(file, lines.get(foreign, 1), format_path(foreign), f"converted field {format_path(loc)}: {msg}")


def dump_spec(result: ImportResult, source: str, kind: str) -> str:
    """The converted spec as YAML, with the fields not converted listed in a header comment."""
    head = f"# converted by `agentwatch import {kind}` from {source}\n"
    if result.skipped:
        head += "# NOT CONVERTED (no agentwatch equivalent):\n"
        head += "".join(f"#   {s}\n" for s in result.skipped)
    data = result.spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    data = {"version": result.spec.version, **data}
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
