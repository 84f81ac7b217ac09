"""What every command shares: one exit-code convention and one way to report a bad spec or option.

Exit codes: 0 success; 1 a bad input file (spec, foreign SLO file, dashboard JSON), a missing
optional dependency, a failed check or an unreachable service; 2 bad command-line usage (typer's own
convention for unknown options and ``typer.BadParameter``).
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer

from agentwatch.durations import DurationError, parse_duration
from agentwatch.spec import Spec, SpecError, load_spec

__all__ = ["DEFAULT_SPEC", "die", "duration_seconds", "load_spec_or_exit", "spec_option"]

DEFAULT_SPEC = Path("agentwatch.yaml")


def die(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` on stderr and exit with ``code`` (no traceback)."""
    typer.echo(message, err=True)
    raise typer.Exit(code)


def load_spec_or_exit(path: Path) -> Spec:
    """The validated spec, or every problem as ``FILE:LINE: field: message`` and exit 1."""
    try:
        return load_spec(path)
    except SpecError as err:
        die(str(err))


def duration_seconds(text: str) -> float:
    """A typer ``parser=`` for duration options (``--since 1h``): a clear usage error otherwise."""
    try:
        return float(parse_duration(text))
    except DurationError as exc:
        raise typer.BadParameter(str(exc)) from None


def spec_option(help_text: str = "The agentwatch spec file.") -> Path:
    return typer.Option(DEFAULT_SPEC, "--spec", help=help_text)
