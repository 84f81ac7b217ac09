"""The catalogue and the spec model are plain data: generators and CI read them without the
OpenTelemetry SDK, prometheus_client, FastAPI, torch or grafanalib being imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("opentelemetry", "prometheus_client", "fastapi", "starlette", "torch", "transformers", "grafanalib",
         "redis", "matplotlib", "uvicorn")


@pytest.mark.parametrize("module", ["agentwatch.telemetry.catalogue", "agentwatch.spec", "agentwatch.spec.model",
                                    "agentwatch.families", "agentwatch.cli"])
def test_importing_it_pulls_in_no_runtime_framework(module: str) -> None:
    code = (f"import sys, {module}\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"importing {module} imported {result.stdout.strip()}"


def test_the_public_telemetry_api_still_resolves_lazily() -> None:
    import agentwatch.telemetry as telemetry

    assert telemetry.Telemetry.__name__ == "Telemetry"
    assert telemetry.catalogue.EXEMPLAR_TRACE_ID == "trace_id"
    assert set(telemetry.__all__) <= set(dir(telemetry))
