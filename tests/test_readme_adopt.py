"""The README's "Adopt agentwatch in your agent" section works as written: its spec validates and
generates, and its Python snippet, run as is, serves an instrumented app."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agentwatch.cli import app as cli
from agentwatch.spec import load_spec
from agentwatch.telemetry import catalogue as c

README = Path(__file__).resolve().parents[1] / "README.md"
TITLE = "## Adopt agentwatch in your agent"


def _blocks(language: str) -> list[str]:
    text = README.read_text()
    section = text[text.index(TITLE):]
    section = section[:section.index("\n## ", len(TITLE))]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def test_the_section_has_the_install_line_the_spec_the_code_and_generate() -> None:
    shell = "\n".join(_blocks("bash"))
    assert "pip install 'agentwatch[fastapi,dashboards]'" in shell and "agentwatch generate" in shell
    assert len(_blocks("yaml")) == 1 and len(_blocks("python")) == 1


def test_the_spec_validates_and_generates(tmp_path: Path) -> None:
    spec_path = tmp_path / "agentwatch.yaml"
    spec_path.write_text(_blocks("yaml")[0])
    spec = load_spec(spec_path)
    assert spec.closed_sets.status("empty_question") == 422
    result = CliRunner().invoke(cli, ["generate", "--spec", str(spec_path)])
    assert result.exit_code == 0, result.output
    rules = tmp_path / "alerts/generated/kpi-rules.yaml"
    check = subprocess.run(["promtool", "check", "rules", str(rules), str(tmp_path / "alerts/generated/slo-"
                                                                           "ask-availability.yaml")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert rules.read_text().count("alert:") == 2  # only the two KPIs the spec names
    deployment = (tmp_path / "k8s/generated/base/deployment.yaml").read_text()
    assert "- my_agent:app" in deployment and "REDIS_URL" not in deployment


def test_the_snippet_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "agentwatch.yaml").write_text(_blocks("yaml")[0])
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "my_agent"}
    exec(compile(_blocks("python")[0], str(README), "exec"), namespace)  # the README's code, unchanged
    app, tel = namespace["app"], namespace["tel"]

    async def go() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://my-agent") as client:
                assert (await client.get("/readyz")).status_code == 200
                answer = await client.post("/ask", json={"question": "hello"})
                assert answer.status_code == 200 and answer.json() == {"answer": "HELLO"}
                empty = await client.post("/ask", json={"question": "  "})
                assert empty.status_code == 422 and empty.json()["error"]["class"] == "empty_question"
                metrics = (await client.get("/metrics")).text
        get = tel.registry.get_sample_value
        assert get(c.ERRORS.name, {"error_class": "empty_question"}) == 1
        assert get(c.QUEUE_WAIT.count) == 1 and get(c.MODEL_LOADED.name, {"model": "my-model"}) == 1
        assert get(c.REQUEST_DURATION.count, {"route": "/ask", "method": "POST", "code": "200"}) == 1
        assert c.QUEUE_CAPACITY.name in metrics
        tel.shutdown()

    asyncio.run(go())
