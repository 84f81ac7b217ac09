"""Shared benchmark helpers: CPU pinning, servers on free ports, alternating rounds, summaries, results.

Every benchmark measures its baseline in the same run: :func:`alternate` runs the variants of one
round back to back (rotating their order each round, so no variant always goes first), and
:func:`summarize` reports min/median/max. Results are one JSON file per benchmark in
``bench/results/`` with the same shape, which :mod:`agentwatch.bench.report` turns into Markdown.

Usage::

    pin = Pinning.detect()
    with UvicornServer("agentwatch.bench.apps:plain_app", cpus=pin) as server:
        stats = run_wrk(server.url + "/v1/ping", seconds=5, body="{}", pinning=pin,
                        server_pid=server.process.pid)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from agentwatch.bench.report import QUICK_DIR, RESULTS_DIR, render_result
from agentwatch.local.processes import HttpProcess

__all__ = [
    "QUICK_DIR",
    "RESULTS_DIR",
    "Pinning",
    "Result",
    "Target",
    "UvicornServer",
    "alternate",
    "base_parser",
    "command_line",
    "cpu_seconds",
    "finish",
    "host_info",
    "percentile",
    "ratio",
    "rounds_for",
    "start_all",
    "summarize",
    "write_result",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Pinning:
    """Which CPUs the server under test and the load generator get (``None``: not pinned)."""

    server: str | None
    load: str | None
    reason: str

    @classmethod
    def detect(cls, enabled: bool = True) -> Pinning:
        """Server on the last CPU, load on the others, when ``taskset`` works and there are ≥ 2 CPUs."""
        if not enabled:
            return cls(None, None, "pinning disabled by --no-pin")
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return cls(None, None, f"not pinned: only {len(cpus)} CPU available")
        if shutil.which("taskset") is None:
            return cls(None, None, "not pinned: taskset not found")
        if subprocess.run(["taskset", "-c", str(cpus[-1]), "true"], capture_output=True).returncode != 0:
            return cls(None, None, "not pinned: taskset failed (no permission?)")
        load = ",".join(str(c) for c in cpus[:-1])
        return cls(str(cpus[-1]), load, f"pinned with taskset: server on CPU {cpus[-1]}, load generator on CPU {load}")

    @property
    def used(self) -> bool:
        return self.server is not None

    def wrap(self, command: Sequence[str], role: str) -> list[str]:
        """``command`` prefixed with ``taskset -c <cpus>`` for ``role`` ('server' or 'load')."""
        cpus = self.server if role == "server" else self.load
        return ["taskset", "-c", cpus, *command] if cpus else list(command)

    @contextlib.contextmanager
    def pin_self(self, role: str) -> Iterator[None]:
        """Pin the calling process (a Python load generator) to the ``role`` CPUs, then restore."""
        cpus = self.server if role == "server" else self.load
        before = os.sched_getaffinity(0)
        if cpus:
            os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
        try:
            yield
        finally:
            os.sched_setaffinity(0, before)


class UvicornServer(HttpProcess):
    """``uvicorn --factory <factory>`` (1 worker, no access log) on a free port, optionally pinned."""

    name = "uvicorn"
    start_timeout = 60.0

    def __init__(self, factory: str, *, cpus: Pinning | None = None, env: Mapping[str, str] | None = None,
                 ready_path: str = "/healthz") -> None:
        super().__init__()
        self.factory, self.pinning, self.ready_path = factory, cpus, ready_path
        self.env = {**os.environ, **(env or {})}

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "uvicorn", "--factory", self.factory, "--host", "127.0.0.1",
               "--port", str(self.port), "--workers", "1", "--no-access-log", "--log-level", "warning"]
        return self.pinning.wrap(cmd, "server") if self.pinning else cmd


def start_all(stack: contextlib.ExitStack, services: Sequence[T]) -> list[T]:
    """Enter every service context (``ManagedProcess``, ``ModelWorker``) concurrently: start-up is
    mostly imports and model loads, so a benchmark's subjects come up together instead of in turn.
    Each one is closed by ``stack``, also when another one fails to start."""
    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        futures = [pool.submit(service.__enter__) for service in services]  # type: ignore[attr-defined]
        errors = [future.exception() for future in futures]
    for service in services:
        stack.push(service)  # type: ignore[arg-type]
    for error in errors:
        if error is not None:
            raise error
    return list(services)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time consumed so far by every thread of process ``pid`` (Linux ``/proc``).

    CPU per request is robust to other processes on a shared machine (they take wall time, not
    the server's CPU time), so benchmarks report it next to throughput as a cross-check.
    """
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alternate(variants: Sequence[str], rounds: int, run: Callable[[str, int], T],
              on_result: Callable[[str, int, T], None] | None = None) -> dict[str, list[T]]:
    """Run every variant once per round, rotating the order each round; return results per variant."""
    results: dict[str, list[T]] = {v: [] for v in variants}
    for r in range(rounds):
        shift = r % len(variants)
        for variant in [*variants[shift:], *variants[:shift]]:
            value = run(variant, r)
            results[variant].append(value)
            if on_result:
                on_result(variant, r, value)
    return results


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def summarize(values: Iterable[float]) -> dict[str, float]:
    """min / median / max (and n) of the per-round values."""
    data = list(values)
    return {"min": min(data), "median": statistics.median(data), "max": max(data), "n": len(data)}


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> dict[str, float]:
    """Ratio of medians, plus min/median/max of the per-round (paired) ratios."""
    paired = [a / b for a, b in zip(numerator, denominator, strict=True) if b]
    return {"of_medians": statistics.median(numerator) / statistics.median(denominator),
            **{f"paired_{k}": v for k, v in summarize(paired).items() if k != "n"}}


@dataclass
class Target:
    """One issue target: what is compared, the bar, the measured value and whether it was met."""

    what: str
    bar: str
    measured: float
    met: bool
    unit: str = "ratio"
    note: str = ""


@dataclass
class Result:
    """Everything one benchmark run produced; written as ``bench/results/<name>.json``."""

    name: str
    title: str
    quick: bool
    settings: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    host: dict[str, Any] = field(default_factory=dict)
    finished: str = ""
    command: str = ""


def host_info(pinning: Pinning | None) -> dict[str, Any]:
    """Machine facts worth printing next to a number: CPUs, load, Python, pinning."""
    load1, load5, _ = os.getloadavg()
    return {"cpus": os.cpu_count(), "loadavg_1m_at_end": round(load1, 2),
            "loadavg_5m_at_end": round(load5, 2), "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "pinning": pinning.reason if pinning else "not applicable"}


def write_result(result: Result, pinning: Pinning | None, out_dir: Path | None = None) -> Path:
    """Stamp host facts and time, write ``<out_dir>/<name>.json`` and return its path."""
    stamp(result, pinning)
    out = out_dir or (QUICK_DIR if result.quick else RESULTS_DIR)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result.name}.json"
    path.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return path


def stamp(result: Result, pinning: Pinning | None) -> None:
    result.host = host_info(pinning)
    result.finished = time.strftime("%Y-%m-%dT%H:%M:%S%z")


def finish(result: Result, pinning: Pinning | None, args: argparse.Namespace,
           argv: Sequence[str] | None) -> Result:
    """Record the command, print the result as Markdown and write its JSON unless ``--no-write``."""
    result.command = command_line(result.name, argv)
    stamp(result, pinning)
    print(render_result(asdict(result)), flush=True)
    if not args.no_write:
        print(f"wrote {write_result(result, pinning, args.out_dir)}", flush=True)
    return result


def command_line(name: str, argv: Sequence[str] | None) -> str:
    """The command that reproduces benchmark ``name`` with these options (``--out-dir`` left out)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--out-dir" in args:
        i = args.index("--out-dir")
        del args[i:i + 2]
    return " ".join(["python -m agentwatch.bench." + name, *args])


def base_parser(description: str) -> argparse.ArgumentParser:
    """Options every benchmark takes: --quick, --rounds, --no-pin, --out-dir, --no-write."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="short version (seconds, not minutes)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default: 5, quick: 2)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and load with taskset")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="where <name>.json is written (default bench/results, quick: bench/results/quick)")
    parser.add_argument("--no-write", action="store_true", help="print only; write no result file")
    return parser


def rounds_for(args: argparse.Namespace, full: int = 5, quick: int = 2) -> int:
    return args.rounds or (quick if args.quick else full)
