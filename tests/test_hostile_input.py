"""Hostile input against a real agent process: schemathesis on the OpenAPI, then a corpus of our own.

Every answer must be below 500, never carry a traceback, and — for everything that reaches the
application — be the documented ``{"error": {"class", "message"}}`` with the class's status.
What never reaches the application (a request line or header block the HTTP parser rejects) is
answered by uvicorn itself: a 400 with a short plain-text body, which the README documents.
The corpus: huge and endless bodies, deep JSON, invalid UTF-8, NUL bytes, path traversal, 10 000
random paths, header injection and oversized headers, wrong content types, a slow body (408 within
the body timeout). ``/metrics`` has the same series count after the corpus as before it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from agentwatch.bench.agents import scrape
from agentwatch.local.processes import AgentProcess, RedisServer
from agentwatch.telemetry import catalogue as c

pytestmark = [pytest.mark.live, pytest.mark.model]

BODY_TIMEOUT_MS = 1500


@pytest.fixture(scope="module")
def agent() -> Iterator[AgentProcess]:
    with RedisServer() as redis, AgentProcess(env={"REDIS_URL": redis.url, "AGENTWATCH_STRICT_LABELS": "true",
                                                   "AGENT_BODY_TIMEOUT_MS": str(BODY_TIMEOUT_MS)}) as process:
        yield process


def _openapi() -> dict:
    """The served app's OpenAPI document, built without starting it (the agent process serves the
    same; schemathesis' lazy ``from_fixture`` loader does not run on pytest 9)."""
    from agentwatch.agent.app import create_app
    from agentwatch.agent.settings import AgentSettings
    from agentwatch.telemetry import Telemetry, TelemetrySettings

    return create_app(AgentSettings(), Telemetry(TelemetrySettings(export_traces=False))).openapi()


schema = schemathesis.openapi.from_dict(_openapi())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_keeps_its_openapi_contract(case, agent: AgentProcess) -> None:
    """Schemathesis' checks (no 5xx, documented statuses, content types, bodies matching the schema,
    invalid input rejected, valid input accepted) on generated requests, valid and invalid, sent to
    the real agent process."""
    response = case.call_and_validate(base_url=agent.url, timeout=30)
    assert "Traceback" not in response.text


def assert_error_json(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["class"] in c.ERROR_CLASSES and isinstance(body["error"]["message"], str)
    assert c.ERROR_CLASS_STATUS[body["error"]["class"]] == response.status_code, body


def raw(agent: AgentProcess, data: bytes, *, pause: float = 0.0, chunks: list[bytes] | None = None,
        timeout: float = 10.0) -> tuple[int, bytes, float]:
    """Send bytes on a fresh connection (``chunks`` one by one, ``pause`` apart); the status, the
    whole answer and the seconds it took (status 0: the connection closed without an answer)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", agent.port), timeout=timeout) as sock:
        sock.sendall(data)
        for chunk in chunks or []:
            time.sleep(pause)
            try:
                sock.sendall(chunk)
            except OSError:
                break
        answer = b""
        while True:
            try:
                part = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not part:
                break
            answer += part
            if b"\r\n\r\n" in answer:
                head, _, body = answer.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), None)
                if length is not None and len(body) >= length:
                    break
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, answer, time.monotonic() - start


def raw_json(answer: bytes) -> dict:
    return json.loads(answer.partition(b"\r\n\r\n")[2])


MESSAGE = "/v1/conversations/hostile-1/messages"
CORPUS: list[tuple[str, str, dict]] = [
    ("a 10 MB body", "POST", {"content": b"{" + b"x" * 10_000_000 + b"}",
                              "headers": {"content-type": "application/json"}}),
    ("deep JSON arrays", "POST", {"content": b'{"text": ' + b"[" * 60_000 + b"]" * 60_000 + b"}",
                                  "headers": {"content-type": "application/json"}}),
    ("deep JSON objects", "POST", {"content": b'{"a":' * 5000 + b"1" + b"}" * 5000,
                                   "headers": {"content-type": "application/json"}}),
    ("invalid UTF-8", "POST", {"content": b'{"text": "\xff\xfe\xfa"}',
                               "headers": {"content-type": "application/json"}}),
    ("a raw NUL byte in a JSON string", "POST", {"content": b'{"text": "a\x00b"}',
                                                "headers": {"content-type": "application/json"}}),
    ("UTF-16 declared", "POST", {"content": '{"text": "hi"}'.encode("utf-16"),
                                 "headers": {"content-type": "application/json; charset=utf-16"}}),
    ("text/plain", "POST", {"content": b"hello", "headers": {"content-type": "text/plain"}}),
    ("XML", "POST", {"content": b"<text>hi</text>", "headers": {"content-type": "application/xml"}}),
    ("multipart", "POST", {"files": {"text": ("a.txt", b"hi")}}),
    ("no content type", "POST", {"content": b'{"text": "hi"}'}),
    ("a lone surrogate escape", "POST", {"content": b'{"text": "\\ud800"}',
                                         "headers": {"content-type": "application/json"}}),
    ("a number too large", "POST", {"content": b'{"text": 1' + b"0" * 5000 + b"}",
                                    "headers": {"content-type": "application/json"}}),
    ("duplicate keys", "POST", {"content": b'{"text": "a", "text": 5}',
                                "headers": {"content-type": "application/json"}}),
    ("a 64 KB header", "GET", {"headers": {"x-big": "a" * 65_000}}),
    ("a garbage traceparent", "POST", {"json": {"text": "hi"},
                                       "headers": {"traceparent": "00-zz-yy-01" * 50}}),
    ("200 headers", "GET", {"headers": {f"x-h{i}": "v" for i in range(200)}}),
]


#: Hostile-looking but valid: JSON in UTF-16 is JSON (RFC 8259 readers may accept it), headers the
#: agent ignores, a trace context it discards.
ACCEPTABLE = {"UTF-16 declared", "a garbage traceparent", "200 headers", "a 64 KB header"}


def test_a_corpus_of_hostile_requests_gets_documented_4xx_errors(agent: AgentProcess) -> None:
    with httpx.Client(base_url=agent.url, timeout=30) as client:
        assert client.post(MESSAGE, json={"text": "hello"}).status_code == 200
        for name, method, kwargs in CORPUS:
            path = "/v1/conversations/hostile-1" if method == "GET" else MESSAGE
            try:
                response = client.request(method, path, **kwargs)
            except httpx.RemoteProtocolError:
                continue  # the server closed the connection on an oversized header block: no 5xx
            if response.headers.get("content-type", "").startswith("text/plain"):
                assert response.status_code == 400 and "Traceback" not in response.text, name  # uvicorn's own
                continue
            if response.status_code == 200:  # harmless: valid requests with odd but legal trimmings
                assert name in ACCEPTABLE, (name, response.text)
                continue
            assert_error_json(response)
        nul = client.post(MESSAGE, json={"text": "a\u0000b NUL inside a valid JSON string"})
        assert nul.status_code == 200, "an escaped NUL is just a character: stored and answered"


@pytest.mark.parametrize("path", [
    "/v1/conversations/..%2F..%2Fetc%2Fpasswd", "/v1/conversations/%2e%2e/messages",
    "/v1/conversations/..%252f..%252fetc/messages", "/v1/conversations/a%00b/messages",
    "/v1/conversations/aw:{x}:meta/messages", "/v1/conversations/*/messages", "/v1/conversations/%ff%fe",
    "/../../../../etc/passwd", "/v1/conversations/" + "a" * 10_000, "/%", "/v1/%zz",
], ids=lambda p: p[:40])
def test_path_traversal_and_odd_ids_never_reach_redis(agent: AgentProcess, path: str) -> None:
    response = httpx.request("POST" if path.endswith("messages") else "GET", f"{agent.url}{path}",
                             json={"text": "hi"}, timeout=30)
    assert_error_json(response)
    assert response.status_code in (400, 404, 405)


def test_malformed_request_lines_and_header_injection_get_no_5xx(agent: AgentProcess) -> None:
    cases = [
        b"GET /v1/conversations/a\x00b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Inject: a\r\nSet-Cookie: evil=1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\nb\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Latin: \xe9\xff\r\n\r\n",
        b"POST " + MESSAGE.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 500\r\n\r\nhello",
        b"POST " + MESSAGE.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 3\r\n\r\nzz\r\n",
        b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64),  # a TLS hello on the plain port
    ]
    for data in cases:
        status, answer, _ = raw(agent, data)
        assert status < 500 and b"Traceback" not in answer, (data[:60], answer[:200])
        assert b"evil=1" not in answer.partition(b"\r\n\r\n")[0], "no request header is echoed into the response"


def test_a_slow_body_is_cut_off_with_408_within_the_body_timeout(agent: AgentProcess) -> None:
    head = (f"POST {MESSAGE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 64\r\n\r\n").encode()
    status, answer, seconds = raw(agent, head + b'{"text": ', pause=0.4, chunks=[b"x"] * 30, timeout=10)
    assert status == 408, answer[:300]
    assert raw_json(answer)["error"]["class"] == "request_timeout"
    assert seconds < BODY_TIMEOUT_MS / 1000 + 2.0, f"cut off within the body timeout: {seconds:.1f}s"
    # ... and the slow client held no admission slot: the API answered meanwhile.
    assert httpx.post(f"{agent.url}{MESSAGE}", json={"text": "still here?"}, timeout=30).status_code == 200


FUZZ = """
local seed = %(seed)d
local tokens = {"a", "z", "0", "9", "-", "_", ".", "..", "~", "%%2F", "%%2e%%2e", "%%00", "%%C3%%A9", "%%E6%%BC%%A2",
  "%%E2%%80%%AE", "%%7B", "%%7D", ":", "@", "!", "$", "&", "'", "(", ")", "*", "+", ",", ";", "=", "%%25", "%%ZZ",
  "%%0A", "%%0D%%0A", "aw:{x}:meta", "/"}
local prefixes = {"/", "/v1/", "/v1/conversations/", "/metrics/", "/healthz/", "/v1/conversations/x/"}
local methods = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
local threads = {}
statuses, bad = {}, {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  math.randomseed(seed * 1000 + tid)
end

request = function()
  local parts = {}
  for _ = 1, math.random(1, 6) do
    local segment = {}
    for _ = 1, math.random(1, 8) do segment[#segment + 1] = tokens[math.random(#tokens)] end
    parts[#parts + 1] = table.concat(segment)
  end
  local path = prefixes[math.random(#prefixes)] .. table.concat(parts, "/"):gsub("^/+", "")
  local method = methods[math.random(#methods)]
  if method == "POST" or method == "PUT" or method == "PATCH" then
    return wrk.format(method, path, {["Content-Type"] = "application/json"}, '{"text": "hi"}')
  end
  return wrk.format(method, path)
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= 200 and not string.find(body, '^{"error":{"class":"[a-z_]+","message":"') and #bad < 5 then
    bad[#bad + 1] = status .. " " .. string.sub(body, 1, 80)
  end
end

done = function(summary, latency, requests)
  local all, samples = {}, {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {}) do all[code] = (all[code] or 0) + n end
    for _, b in ipairs(t:get("bad") or {}) do samples[#samples + 1] = b end
  end
  local parts = {}
  for code, n in pairs(all) do parts[#parts + 1] = string.format('"%%d": %%d', code, n) end
  io.write("FUZZ " .. string.format('{"statuses": {%%s}, "errors": %%d, "bad": %%d}',
    table.concat(parts, ", "), summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, #samples) .. "\\n")
  for _, b in ipairs(samples) do io.write("BAD " .. b .. "\\n") end
end
"""


def fuzz_paths(agent: AgentProcess, seed: int, seconds: float) -> tuple[dict[int, int], int, list[str]]:
    """Random methods and paths for ``seconds``, sent by wrk (two threads, a Lua generator; wrk stops
    on time, not on a count): statuses, socket errors, answers neither 200 nor the error JSON."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(FUZZ % {"seed": seed})
    try:
        out = subprocess.run(["wrk", "-t2", "-c16", f"-d{max(1, round(seconds))}s", "--timeout=30s", "-s",
                              script.name, agent.url], capture_output=True, text=True, timeout=seconds + 60)
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("FUZZ "))
    data = json.loads(line[5:])
    bad = [ln[4:] for ln in out.stdout.splitlines() if ln.startswith("BAD ")]
    return {int(k): v for k, v in data["statuses"].items()}, data["errors"], bad


def _series(agent: AgentProcess) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {(x.name, tuple(sorted(x.labels.items()))) for x in scrape(agent.url).samples}


def test_ten_thousand_random_paths_get_json_errors_and_mint_no_series(agent: AgentProcess) -> None:
    # First every (route, method, status) hostile input can reach — a closed set: route templates (or
    # 'unmatched'), seven methods, the error statuses — so what follows can only repeat them.
    shapes = ["/x", "/v1/x", "/v1/conversations/ok-1", "/v1/conversations/bad%20id", "/v1/conversations/ok-1/x",
              "/v1/conversations/ok-1/messages", "/v1/conversations/bad%20id/messages",
              "/v1/conversations/ok-1/close", "/v1/conversations/bad%20id/close", "/metrics/x", "/healthz/x"]
    with httpx.Client(base_url=agent.url, timeout=30) as client:
        for path in shapes:
            for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
                client.request(method, path, json={"text": "hi"} if method in ("POST", "PUT", "PATCH") else None)
                client.request(method, path, content=b"{", headers={"content-type": "application/json"})
    warm, _, _ = fuzz_paths(agent, seed=1, seconds=3)
    rate = sum(warm.values()) / 3
    before = _series(agent)
    statuses, socket_errors, bad = fuzz_paths(agent, seed=2, seconds=min(60, max(3, 1.5 * 10_000 / rate)))
    after = _series(agent)
    assert sum(statuses.values()) >= 10_000 and socket_errors == 0, (statuses, socket_errors)
    assert max(statuses) < 500, statuses
    assert bad == [], bad
    assert after == before, f"random paths minted series: {sorted(after - before)[:5]}"
