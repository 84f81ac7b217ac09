"""Load a spec file and report every problem as ``FILE:LINE: field.path: message (allowed: ...)``.

YAML is composed once to learn the line of every key, so a pydantic error at
``('slos', 1, 'sli', 'latency')`` points at the line where that key is written.

Usage::

    try:
        spec = load_spec("agentwatch.yaml")
    except SpecError as err:
        print(err)            # one line per problem, no traceback
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from agentwatch.spec.model import Spec, spec_issues

__all__ = ["Issue", "SpecError", "format_path", "line_map", "load_spec", "load_yaml", "parse_spec"]

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Issue:
    """One problem in a spec file."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"


class SpecError(Exception):
    """A spec file is invalid; ``str()`` lists every issue, one per line."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


def format_path(path: Path_) -> str:
    """``('slos', 1, 'sli')`` → ``slos[1].sli``; the empty path is ``(root)``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def line_map(node: yaml.Node | None) -> dict[Path_, int]:
    """Map every key path of a composed YAML document to its 1-based line."""
    lines: dict[Path_, int] = {}

    def walk(n: yaml.Node, path: Path_) -> None:
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                child = (*path, str(key.value))
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    if node is not None:
        lines[()] = node.start_mark.line + 1
        walk(node, ())
    return lines


def _line(lines: dict[Path_, int], path: Path_) -> int:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def load_yaml(text: str, file: str) -> tuple[Any, dict[Path_, int]]:
    """Parse one YAML document; syntax errors become a ``SpecError`` with the line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise SpecError([Issue(file, line, "(root)", f"YAML syntax error: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Issue(file, 1, "(root)", f"YAML error: {exc}")]) from None
    return data, line_map(node)


def _allowed_fields(model: type[BaseModel], path: Path_) -> list[str]:
    """Field names (aliases) of the model that sits at ``path`` (for unknown-key errors)."""
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part) or next(
            (f for f in getattr(current, "model_fields", {}).values() if f.alias == part), None)
        if field is None:
            return []
        annotation = field.annotation
        for candidate in getattr(annotation, "__args__", (annotation,)):
            candidate = getattr(candidate, "__args__", (candidate,))[-1] if hasattr(
                candidate, "__origin__") else candidate
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                current = candidate
                break
        else:
            return []
    return [f.alias or name for name, f in current.model_fields.items()]


def _message(error: dict[str, Any], path: Path_) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(Spec, path[:-1])
        return f"unknown field {path[-1]!r} (allowed: {', '.join(allowed)})"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        return f"invalid value {error.get('input')!r} (allowed: {error['ctx']['expected']})"
    if kind == "string_pattern_mismatch":
        return f"invalid value {error.get('input')!r} (allowed: text matching {error['ctx']['pattern']})"
    return msg.removeprefix("Value error, ")


def parse_spec(data: Any, lines: dict[Path_, int], file: str) -> Spec:
    """Validate parsed YAML into a ``Spec``; raise ``SpecError`` listing every problem."""
    if data is None:
        raise SpecError([Issue(file, 1, "(root)", "the spec is empty (allowed: a mapping with "
                                                   "version, service, slos, kpis, alertmanager)")])
    if not isinstance(data, dict):
        raise SpecError([Issue(file, lines.get((), 1), "(root)",
                               f"the spec must be a mapping, not {type(data).__name__}")])
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        issues = []
        for error in exc.errors():
            path = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            issues.append(Issue(file, _line(lines, path), format_path(path), _message(error, path)))
        raise SpecError(issues) from None
    problems = spec_issues(spec)
    if problems:
        raise SpecError(Issue(file, _line(lines, p), format_path(p), m) for p, m in problems)
    spec._source = PurePath(file).name
    return spec


def load_spec(path: str | Path) -> Spec:
    """Read, parse and validate a spec file."""
    file = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SpecError([Issue(file, 0, "(root)", f"cannot read the spec: {exc.strerror}")]) from None
    data, lines = load_yaml(text, file)
    return parse_spec(data, lines, file)
