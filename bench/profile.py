"""Profile the agent's message path under load with py-spy: a flame graph SVG from a real run.

The agent (pinned to the server CPU, Redis and an OTLP receiver beside it, like the benchmarks)
is saturated by ``wrk`` with real messages while ``py-spy record`` samples every thread of it
(``--idle`` off: only what burns CPU). The SVG goes to ``bench/results/<name>.svg`` and a
one-line summary of the run (msg/s, CPU per message) to stdout.

    python -m agentwatch.bench.profile [--seconds 20] [--name flamegraph-agent] [--env K=V ...]

py-spy is a sampling profiler that reads the process from outside (``ptrace``): install it with
``pip install 'agentwatch[bench]'``; it needs permission to attach (root, or
``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from agentwatch.bench.agents import PinnedAgent, pin_process
from agentwatch.bench.harness import RESULTS_DIR, Pinning
from agentwatch.bench.workload import MESSAGES
from agentwatch.bench.wrk import WrkStats, run_wrk
from agentwatch.local.otlp_receiver import OtlpReceiver
from agentwatch.local.processes import RedisServer

__all__ = ["main", "py_spy"]

BODIES = [json.dumps({"text": m}) for m in MESSAGES]


def py_spy() -> str:
    """Path of the py-spy binary, or a one-line install hint."""
    # pip puts the binary next to the interpreter, which need not be on PATH (a venv not activated).
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if found is None:
        raise SystemExit("py-spy is not installed: pip install 'agentwatch[bench]'")
    return found


def profile(out: Path, seconds: float, env: dict[str, str], pinning: Pinning, rate: int = 97,
            fmt: str = "flamegraph") -> WrkStats:
    """Saturate one agent for ``seconds`` (after a warm-up) while py-spy writes ``out``."""
    binary = py_spy()
    with OtlpReceiver(keep_spans=False) as sink, RedisServer() as redis_server, contextlib.ExitStack() as stack:
        pin_process(redis_server.process.pid, pinning.load)
        agent = stack.enter_context(PinnedAgent(redis_server.url, pinning,
                                                {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint, **env}))
        url = f"{agent.url}/v1/conversations/p-{{n}}/messages"
        run_wrk(url, seconds=2, body=BODIES, distinct=500, pinning=pinning, timeout_s=5)  # warm-up
        command = pinning.wrap([binary, "record", "--pid", str(agent.pid), "--duration", str(round(seconds)),
                                "--rate", str(rate), "--format", fmt, "--output", str(out),
                                "--nonblocking"], "load")
        recorder = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        holder: dict[str, WrkStats] = {}
        load = threading.Thread(target=lambda: holder.setdefault("stats", run_wrk(
            url, seconds=seconds + 1, body=BODIES, distinct=500, pinning=pinning, timeout_s=5,
            server_pid=agent.pid)))
        load.start()
        output, _ = recorder.communicate(timeout=seconds + 120)
        load.join()
        if recorder.returncode != 0 or not out.exists():
            raise RuntimeError(f"py-spy failed ({recorder.returncode}): {output.strip()[-2000:]}")
    return holder["stats"]


def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--name", default="flamegraph-agent", help="SVG file name (without .svg)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--env", action="append", default=[], metavar="K=V", help="extra agent environment")
    parser.add_argument("--format", choices=["flamegraph", "raw"], default="flamegraph",
                        help="raw: collapsed stacks (.txt), for summing by frame")
    parser.add_argument("--no-pin", action="store_true")
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    pinning = Pinning.detect(not args.no_pin)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"{args.name}.{'svg' if args.format == 'flamegraph' else 'txt'}"
    stats = profile(out, args.seconds, env, pinning, fmt=args.format)
    print(f"{out}: {stats.ok_rps:.1f} msg/s, {stats.cpu_ms_per_request:.2f} ms agent CPU per message, "
          f"p99 {stats.p99_ms:.0f} ms, non-2xx {stats.non_2xx}; {pinning.reason}", flush=True)
    return out


if __name__ == "__main__":
    main()
