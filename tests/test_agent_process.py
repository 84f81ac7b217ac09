"""`agentwatch serve` as a real process: readiness, fault injection, JSON logs, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request

import pytest
from typer.testing import CliRunner

from agentwatch.local.processes import AgentProcess
from agentwatch.telemetry import catalogue as c


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.live
@pytest.mark.model
def test_the_served_agent_gets_ready_injects_faults_and_stops_cleanly(redis_server):
    start = time.monotonic()
    agent = AgentProcess(env={"REDIS_URL": redis_server.url, "AGENT_FAULT_ERROR_RATIO": "1",
                              "AGENTWATCH_STRICT_LABELS": "true"})
    with agent:
        ready_after = time.monotonic() - start
        status, body = _post(f"{agent.url}/v1/conversations/proc-1/messages", {"text": "hello"})
        with urllib.request.urlopen(f"{agent.url}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        assert agent.process is not None
        os.killpg(agent.process.pid, signal.SIGTERM)
        code = agent.process.wait(timeout=20)
        log = agent.output()
    assert ready_after < 60
    assert status == 500 and body["error"]["class"] == "injected_fault"
    assert f'{c.ERRORS.name}{{error_class="injected_fault"}} 1.0' in metrics
    assert f"{c.COLD_START_DURATION.name} " in metrics
    assert code in (0, -signal.SIGTERM), log  # uvicorn re-raises the signal after a graceful stop
    assert "Application shutdown complete." in log
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(r["message"] == "model ready" for r in records)
    assert "hello" not in log, "conversation text stays out of logs unless capture is on"


def _cli(*args: str, env: dict[str, str] | None = None):
    from agentwatch.cli import app
    return CliRunner().invoke(app, list(args), env=env)


@pytest.mark.parametrize(("args", "env", "message", "code"), [
    (["serve", "--log-level", "loud"], None, "--log-level", 2),
    (["serve", "--port", "0"], None, "--port", 2),
    (["serve"], {"AGENT_MAX_BATCH": "lots"}, "AGENT_MAX_BATCH must be an integer", 1),
], ids=["an unknown log level is a usage error", "port zero is a usage error",
        "a malformed setting in the environment is a bad input"])
def test_serve_rejects_bad_options_and_settings_with_a_message(args, env, message, code):
    result = _cli(*args, env=env)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_the_process_start_time_is_in_the_recent_past():
    from agentwatch.telemetry.readiness import process_start_time

    age = time.time() - process_start_time()
    assert 0 < age < 24 * 3600
