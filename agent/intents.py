"""The intent catalogue: example utterances per intent, read from ``intents.yaml``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from agentwatch.telemetry import catalogue as c

__all__ = ["IntentCatalogueError", "load_intents"]


class IntentCatalogueError(ValueError):
    """The intents file does not match the catalogue's closed intent set."""


def load_intents(path: str | Path | None = None) -> dict[str, list[str]]:
    """Intent name → example utterances, in ``c.INTENTS`` order; default: the packaged file."""
    if path is None:
        text = resources.files("agentwatch.agent").joinpath("intents.yaml").read_text(encoding="utf-8")
        source = "agentwatch/agent/intents.yaml"
    else:
        text, source = Path(path).read_text(encoding="utf-8"), str(path)
    data = yaml.safe_load(text) or {}
    intents = data.get("intents") if isinstance(data, dict) else None
    if not isinstance(intents, dict):
        raise IntentCatalogueError(f"{source}: top-level key 'intents' must map intent names to lists")
    if set(intents) != set(c.INTENTS):
        missing, extra = sorted(set(c.INTENTS) - set(intents)), sorted(set(intents) - set(c.INTENTS))
        raise IntentCatalogueError(f"{source}: intents must be exactly the catalogue's; "
                                   f"missing {missing}, not in the catalogue {extra}")
    out: dict[str, list[str]] = {}
    for name in c.INTENTS:
        examples = intents[name]
        if not isinstance(examples, list) or not examples or not all(isinstance(e, str) for e in examples):
            raise IntentCatalogueError(f"{source}: intents.{name} must be a non-empty list of strings")
        out[name] = examples
    return out
