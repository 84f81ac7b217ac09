"""Drive ``wrk`` (Debian package) with a generated Lua script and read its summary as JSON.

The script's ``done()`` prints one JSON line (requests, non-2xx count, latency percentiles), so
nothing depends on wrk's human-readable output. ``body`` (one string, or a list used in turn;
ASCII) makes every request a POST; a ``{n}`` in ``path`` becomes a per-thread counter modulo
``distinct`` (e.g. many conversation ids). ``delay_ms`` makes each connection wait that long
after an answer before its next request (wrk's ``delay()``): ``connections / delay`` caps the
offered rate, so a fast answer (a 429) does not turn into an instant retry. ``count_status``
adds per-status counts (wrk's ``response()`` hook; it costs wrk some speed).

Usage::

    stats = run_wrk("http://127.0.0.1:8000/v1/ping", seconds=5, body='{"text":"hi"}')
    stats.rps, stats.p99_ms, stats.non_2xx
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentwatch.bench.harness import Pinning, cpu_seconds

__all__ = ["WrkStats", "run_wrk"]

_MARK = "WRK_JSON "

_SCRIPT = """
local counter = 0
local thread_no = 0
local threads = {}
local path_template = %(path)s
local bodies = %(bodies)s
local distinct = %(distinct)d
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
  table.insert(threads, thread)
end

%(hooks)s
request = function()
  counter = counter + 1
  local path = string.gsub(path_template, "{n}", tostring(tid or 0) .. "-" .. tostring(counter %% distinct))
  if #bodies > 0 then
    return wrk.format("POST", path, nil, bodies[(counter %% #bodies) + 1])
  end
  return wrk.format("GET", path)
end

done = function(summary, latency, requests)
  local s = summary.errors.status + summary.errors.connect + summary.errors.read
            + summary.errors.write + summary.errors.timeout
  local statuses = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {}) do statuses[code] = (statuses[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(statuses) do table.insert(parts, string.format("\\"%%d\\": %%d", code, n)) end
  io.write(string.format(
    "%(mark)s{\\"statuses\\": {" .. table.concat(parts, ", ") .. "}, "
    .. "\\"requests\\": %%d, \\"duration_us\\": %%d, \\"non_2xx\\": %%d, \\"socket_errors\\": %%d, "
    .. "\\"p50_us\\": %%d, \\"p90_us\\": %%d, \\"p99_us\\": %%d, \\"max_us\\": %%d, \\"mean_us\\": %%f}\\n",
    summary.requests, summary.duration, summary.errors.status, s - summary.errors.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


@dataclass(frozen=True)
class WrkStats:
    """One wrk run: completed requests per second and latency (wrk's own histogram)."""

    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    #: CPU seconds the server process used during the run (``server_pid`` given), else ``None``.
    server_cpu_s: float | None = None
    #: Answers by HTTP status (``count_status=True``), else empty.
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU per completed request: what throughput would be on a core of its own."""
        if self.server_cpu_s is None or not self.requests:
            return float("nan")
        return self.server_cpu_s * 1e3 / self.requests

    @property
    def ok_rps(self) -> float:
        """Requests per second that got a 2xx/3xx answer."""
        return (self.requests - self.non_2xx) / self.seconds if self.seconds else 0.0


_STATUS_HOOK = """
statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for ASCII text


def _lua_list(values: Sequence[str]) -> str:
    return "{" + ", ".join(_lua_string(v) for v in values) + "}"


def run_wrk(url: str, *, seconds: float, connections: int = 32, threads: int | None = None,
            body: str | Sequence[str] | None = None, distinct: int = 1_000_000, pinning: Pinning | None = None,
            timeout_s: float = 10.0, server_pid: int | None = None, delay_ms: int = 0,
            count_status: bool = False) -> WrkStats:
    """Run ``wrk`` against ``url`` for ``seconds``; raise if wrk is missing or fails.

    With ``server_pid``, the server's CPU time during the run is recorded too.
    """
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: `make deps` (Debian package wrk)")
    if threads is None:
        threads = 1 if pinning is not None and pinning.used and "," not in (pinning.load or "") else 2
    base, _, path = url.partition("://")[2].partition("/")
    scheme = url.partition("://")[0]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        bodies = [] if body is None else [body] if isinstance(body, str) else list(body)
        hooks = (_STATUS_HOOK if count_status else "") + (
            f"delay = function() return {int(delay_ms)} end\n" if delay_ms > 0 else "")
        script.write(_SCRIPT % {"path": _lua_string("/" + path), "bodies": _lua_list(bodies),
                                "distinct": distinct, "mark": _MARK, "hooks": hooks})
    try:
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                   f"--timeout={timeout_s:g}s", "-s", script.name, f"{scheme}://{base}"]
        if pinning is not None:
            command = pinning.wrap(command, "load")
        cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        cpu = cpu_seconds(server_pid) - cpu_before if server_pid else None
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith(_MARK)), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    data = json.loads(line[len(_MARK):])
    return WrkStats(requests=data["requests"], seconds=data["duration_us"] / 1e6, non_2xx=data["non_2xx"],
                    socket_errors=data["socket_errors"], p50_ms=data["p50_us"] / 1e3,
                    p90_ms=data["p90_us"] / 1e3, p99_ms=data["p99_us"] / 1e3, max_ms=data["max_us"] / 1e3,
                    server_cpu_s=cpu, statuses={int(k): v for k, v in data["statuses"].items()})
