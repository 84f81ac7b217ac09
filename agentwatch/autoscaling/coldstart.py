"""The agent's measured cold start: process start to ``/readyz`` 200, from the cold-start benchmark.

``bench/results/cold_start.json`` (written by ``python -m agentwatch.bench.cold_start``) ships as
package data of ``agentwatch.bench``; the median "spawn → /readyz 200" is the figure the
simulator uses for ``--ready-after`` and the spec checks a pre-warm lead against.

Usage::

    measured_cold_start_s()      # 5.65 (None when the result file is absent)
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

__all__ = ["COLD_START_RESULT", "measured_cold_start_s"]

#: The result file, relative to the ``agentwatch.bench`` package.
COLD_START_RESULT = "results/cold_start.json"
_PHASE_PREFIX = "spawn"


@cache
def measured_cold_start_s() -> float | None:
    """Median seconds from spawning the agent to its first ``/readyz`` 200, or None if not measured."""
    try:
        text = resources.files("agentwatch.bench").joinpath(COLD_START_RESULT).read_text()
        rows = json.loads(text)["rows"]
    except (OSError, ValueError, KeyError, ModuleNotFoundError):
        return None
    for row in rows:
        if str(row.get("phase", "")).startswith(_PHASE_PREFIX) and isinstance(row.get("seconds"), int | float):
            return float(row["seconds"])
    return None
