"""What the Sloth and OpenSLO importers share: the result type, validation and YAML output.

An importer never drops a field silently: whatever has no agentwatch equivalent is listed in
``ImportResult.dropped`` by its path in the foreign file, printed by the CLI and written as a
comment at the top of the converted spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from agentwatch.spec.loader import Issue, Path_, SpecError, format_path
from agentwatch.spec.model import Spec

__all__ = ["ImportResult", "build_spec", "dump_spec", "unknown_keys"]


@dataclass
class ImportResult:
    spec: Spec
    dropped: list[str] = field(default_factory=list)


def unknown_keys(data: Any, known: set[str], path: Path_, dropped: list[str]) -> None:
    """Record every key of mapping ``data`` outside ``known`` as dropped."""
    if isinstance(data, dict):
        for key in data:
            if key not in known:
                dropped.append(f"{format_path((*path, key))}: no agentwatch equivalent")


def build_spec(data: dict, file: str, lines: dict[Path_, int], origin: dict[int, Path_]) -> Spec:
    """Validate converted data; errors point at the foreign SLO they came from (``origin``)."""
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        issues = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            foreign: Path_ = origin.get(loc[1], ()) if loc[:1] == ("slos",) and len(loc) > 1 else ()
            msg = error["msg"].removeprefix("Value error, ")
            issues.append(Issue(file, lines.get(foreign, 1), format_path(foreign),
                                f"converted field {format_path(loc)}: {msg}"))
        raise SpecError(issues) from None


def dump_spec(result: ImportResult, source: str, kind: str) -> str:
    """The converted spec as YAML, with the dropped fields listed in a header comment."""
    head = f"# converted by `agentwatch import {kind}` from {source}\n"
    if result.dropped:
        head += "# NOT CONVERTED (no agentwatch equivalent):\n"
        head += "".join(f"#   {d}\n" for d in result.dropped)
    data = result.spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    data = {"version": result.spec.version, **data}
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
