"""The small programs the compose stack runs from the agent image, run for real here:
the alert webhook logger, the load generator's CLI and ``agentwatch generate compose``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentwatch.compose import ALERTMANAGER_CONFIG
from agentwatch.local.webhook import make_server
from agentwatch.otel_collector import COLLECTOR_CONFIG

ROOT = Path(__file__).resolve().parents[1]

ALERT = {"receiver": "page", "status": "firing", "version": "4", "alerts": [{
    "status": "firing", "labels": {"alertname": "SupportAgentMessagesLatencyPage", "severity": "page"},
    "annotations": {"summary": "latency budget burning"}, "startsAt": "2026-01-01T00:00:00Z",
    "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "abc123", "generatorURL": "http://prometheus:9090/graph"}]}


class Logger:
    def __init__(self) -> None:
        self.out = io.StringIO()
        self.server = make_server("127.0.0.1", 0, self.out)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())


@pytest.fixture
def logger() -> Iterator[Logger]:
    log = Logger()
    thread = threading.Thread(target=log.server.serve_forever, daemon=True)
    thread.start()
    yield log
    log.server.shutdown()
    log.server.server_close()


def test_each_alert_becomes_one_json_line_with_its_receiver_path(logger: Logger) -> None:
    status, body = logger.request("POST", "/alerts/page", json.dumps(ALERT).encode())
    assert (status, body) == (200, {"received": 1})
    [line] = logger.out.getvalue().splitlines()
    logged = json.loads(line)
    assert logged["path"] == "/alerts/page" and logged["receiver"] == "page"
    assert logged["labels"]["alertname"] == "SupportAgentMessagesLatencyPage"
    assert "generatorURL" not in logged


@pytest.mark.parametrize(("method", "path", "body", "status", "error"), [
    ("POST", "/alerts/page", b"{not json", 400, "bad_request"),
    ("POST", "/alerts/page", b'{"receiver": "page"}', 400, "bad_request"),
    ("POST", "/alerts/page", b"[1, 2]", 400, "bad_request"),
    ("GET", "/alerts/page", None, 404, "not_found"),
], ids=["a body that is not JSON", "a JSON body without alerts", "a JSON list", "a GET of a receiver path"])
def test_bad_requests_get_a_4xx_json_error_and_log_nothing(logger: Logger, method: str, path: str,
                                                           body: bytes | None, status: int, error: str) -> None:
    got, reply = logger.request(method, path, body)
    assert (got, reply["error"]) == (status, error)
    assert reply["message"]
    assert logger.out.getvalue() == ""


def test_the_health_endpoint_answers_ok(logger: Logger) -> None:
    assert logger.request("GET", "/healthz") == (200, {"status": "ok"})


@pytest.mark.parametrize(("args", "message"), [
    (["--duration", "10s"], "give at least one agent URL"),
    (["--url", "http://x", "--duration", "0s"], "is zero"),
    (["--url", "http://x", "--duration", "soon"], "is not a duration"),
    (["--url", "http://x", "--users", "0"], "greater than or equal to 1"),
    (["--url", "http://x", "--think-time", "fast"], "expected MIN,MAX seconds"),
    (["--url", "http://x", "--shape", "wave"], "unknown shape 'wave'"),
    (["--url", "ftp://x"], "must start with http://"),
], ids=["no url", "a zero duration", "a duration that is not one", "no users", "a think time that is not a number",
        "an unknown shape", "a target that is not http"])
def test_the_load_cli_rejects_bad_arguments_with_a_clear_message(args: list[str], message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "agentwatch", "load", *args], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.stderr


def test_the_load_cli_gives_up_clearly_when_no_agent_becomes_ready(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "agentwatch", "load", "--url", "http://127.0.0.1:9",
                             "--wait", "1", "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "http://127.0.0.1:9/readyz did not answer 200 within 1s" in result.stderr
    assert "Traceback" not in result.stderr


def test_generate_compose_writes_the_committed_files(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "agentwatch", "generate", "compose",
                             "--spec", str(ROOT / "agentwatch.yaml"), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ALERTMANAGER_CONFIG).is_file() and not (tmp_path / COLLECTOR_CONFIG).exists()
    for relative in (ALERTMANAGER_CONFIG,):
        assert (tmp_path / relative).read_text() == (ROOT / relative).read_text(), relative


def test_generate_compose_reports_a_bad_spec_by_file_line_and_field(tmp_path: Path) -> None:
    spec = tmp_path / "agentwatch.yaml"
    spec.write_text((ROOT / "agentwatch.yaml").read_text().replace(
        'page: {url: "http://127.0.0.1:9094/alerts/page"}', 'page: {url: "ftp://nowhere"}'))
    result = subprocess.run([sys.executable, "-m", "agentwatch", "generate", "compose", "--spec", str(spec)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"{spec}:" in result.stderr and "alertmanager.page.url" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "compose").exists()
