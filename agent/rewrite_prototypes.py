"""Rewrite the packaged intent prototypes: ``python -m agentwatch.agent.rewrite_prototypes``.

Run it after editing ``intents.yaml`` or changing the default model; ``tests/test_agent_model.py``
fails until the packaged file matches. A module of its own so that :mod:`agentwatch.agent.prototypes`
(used by the model) never imports the model.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from agentwatch.agent.intents import load_intents
from agentwatch.agent.model import IntentModel
from agentwatch.agent.prototypes import PACKAGED, fingerprint, write
from agentwatch.agent.settings import default_model_path

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Rewrite the packaged prototypes for the default model and intents (after editing intents.yaml)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", type=Path, default=Path("agent") / PACKAGED,
                        help=f"where to write (default: agent/{PACKAGED}, run from the repository root)")
    args = parser.parse_args(argv)
    path, intents = default_model_path(), load_intents()
    model = IntentModel.load(path, name="default", threads=1, intents=intents, cached=False)
    write(args.out, fingerprint(path, intents), list(intents), model.prototypes)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
