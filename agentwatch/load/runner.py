"""Run the locustfile headless, as a child process, and summarise the run.

Locust runs in its own process because it monkey-patches the standard library with gevent at
import: the caller (a CLI, pytest, the demo, a capacity run) keeps its threads and asyncio.

Usage::

    summary = run_load(["http://127.0.0.1:8000", "http://127.0.0.1:8001"], "spike", seconds=120, users=10)
    summary.turns_lost, summary.latency["messages"]["p99"]

    with start_load("http://127.0.0.1:8000", "steady", seconds=600) as run:   # non-blocking
        ...                                                                 # scale, restart, measure
    run.summary                                                              # after the block
"""

from __future__ import annotations

import contextlib
import importlib.resources
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from agentwatch.load.personas import PERSONAS, user_class_name
from agentwatch.load.shapes import SHAPES, ShapeOptions
from agentwatch.load.summary import LoadSummary, summarize

__all__ = ["LoadError", "LoadRun", "LoadSpec", "locustfile", "require_locust", "run_load", "start_load",
           "wait_ready"]

MISSING = "the load generator needs Locust: pip install 'agentwatch[load]'"
_LOAD_EXTRA = ("locust", "kneed")


class LoadError(RuntimeError):
    """The load generator could not run (Locust missing, bad options, or it crashed)."""


def require_locust() -> None:
    """Raise ``LoadError`` with the one-line install hint when the ``load`` extra is missing."""
    if any(importlib.util.find_spec(name) is None for name in _LOAD_EXTRA):
        raise LoadError(MISSING)


@contextlib.contextmanager
def locustfile() -> Iterator[Path]:
    """The installed locustfile as a real file path (for ``locust -f``)."""
    with importlib.resources.as_file(importlib.resources.files("agentwatch.load") / "locustfile.py") as path:
        yield path


def wait_ready(targets: Sequence[str], timeout: float) -> None:
    """Wait until every target's ``/readyz`` answers 200; raise ``LoadError`` naming the first that does not."""
    deadline = time.monotonic() + timeout
    for url in targets:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise LoadError(f"{url}/readyz did not answer 200 within {timeout:g}s")
            time.sleep(0.5)


@dataclass(frozen=True)
class LoadSpec:
    """What to run: the shape, its options, the targets and the customers' pace."""

    targets: tuple[str, ...]
    shape: str = "steady"
    options: ShapeOptions = field(default_factory=ShapeOptions)
    think: tuple[float, float] = (1.0, 3.0)
    probes: bool = True  # include the BrokenClient's malformed requests
    seed: int | None = None

    def __post_init__(self) -> None:
        if not self.targets:
            raise LoadError("give at least one target URL")
        bad = [t for t in self.targets if not t.startswith(("http://", "https://"))]
        if bad:
            raise LoadError(f"target URLs must start with http:// or https://, got {bad}")
        if self.shape not in SHAPES:
            raise LoadError(f"unknown load shape {self.shape!r} (allowed: {', '.join(SHAPES)})")
        low, high = self.think
        if not 0 <= low <= high:
            raise LoadError(f"think time must be MIN,MAX with 0 <= MIN <= MAX, got {low:g},{high:g}")

    def arguments(self, prefix: Path, ledger: Path) -> list[str]:
        """Locust's command-line arguments (after ``-f locustfile``)."""
        o = self.options
        args = ["--headless", "--only-summary", "--host", self.targets[0], "--targets", ",".join(self.targets),
                "--shape", self.shape, "-u", str(o.users), "-t", f"{max(1, round(o.seconds))}s",
                "--think-time", f"{self.think[0]:g},{self.think[1]:g}", "--csv", str(prefix), "--csv-full-history",
                "--ledger", str(ledger), "--step-users", str(o.step_users), "--step-seconds", f"{o.step_seconds:g}",
                "--max-users", str(o.max_users), "--warmup-seconds", f"{o.warmup_seconds:g}",
                "--slo-objective", f"{o.slo_objective:g}", "--slo-error-ratio", f"{o.slo_error_ratio:g}",
                "--breaches", str(o.breaches), "--spike-factor", f"{o.spike_factor:g}",
                "--exit-code-on-error", "0"]
        for flag, value in (("-r", o.spawn_rate), ("--slo-latency", o.slo_latency), ("--spike-start", o.spike_start),
                            ("--spike-seconds", o.spike_seconds), ("--seed", self.seed)):
            if value is not None:
                args += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
        if not self.probes:  # Locust runs only the user classes named on the command line
            args += [user_class_name(p) for p in PERSONAS]
        return args


class LoadRun:
    """One headless Locust run in a child process; ``wait()`` returns its :class:`LoadSummary`."""

    def __init__(self, spec: LoadSpec, out_dir: str | Path | None = None, *, cpus: str | None = None,
                 env: Mapping[str, str] | None = None, verify: bool = True, prefix: Sequence[str] = ()) -> None:
        require_locust()
        self.spec = spec
        self.out_dir = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="agentwatch-load-"))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.prefix = self.out_dir / "locust"
        self.ledger = self.out_dir / "ledger.json"
        self.log_path = self.out_dir / "locust.log"
        self.cpus, self.env, self.verify, self.wrapper = cpus, env, verify, list(prefix)
        self.process: subprocess.Popen[bytes] | None = None
        self.summary: LoadSummary | None = None
        self._stack = contextlib.ExitStack()

    def command(self, path: Path) -> list[str]:
        cmd = [*self.wrapper, sys.executable, "-m", "locust", "-f", str(path),
               *self.spec.arguments(self.prefix, self.ledger)]
        return ["taskset", "-c", self.cpus, *cmd] if self.cpus else cmd

    def start(self) -> Self:
        self.ledger.unlink(missing_ok=True)
        path = self._stack.enter_context(locustfile())
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(self.command(path), stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, **(self.env or {})}, start_new_session=True)
        return self

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """End the run early (Locust stops its users, writes its CSVs and the ledger, and exits)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def wait(self, timeout: float | None = None) -> LoadSummary:
        """Wait for Locust to finish (``timeout``: default the run time plus a minute), then summarise."""
        assert self.process is not None, "start() first"
        limit = timeout if timeout is not None else self.spec.options.seconds + 60
        try:
            code = self.process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.stop()
            self.process.wait(timeout=30)
            raise LoadError(f"Locust did not finish within {limit:g}s; its output:\n{self.output()}") from None
        finally:
            self._stack.close()
        if code != 0 or not self.ledger.exists():
            raise LoadError(f"Locust exited with {code}; its output:\n{self.output()}")
        self.summary = summarize(self.prefix, self.ledger, self.spec.targets, self.spec.shape, verify=self.verify)
        return self.summary

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None:
            self.stop()
            with contextlib.suppress(Exception):
                assert self.process is not None
                self.process.wait(timeout=30)
            self._stack.close()
            return
        self.wait()


def _spec(targets: str | Sequence[str], shape: str, seconds: float, users: int, think: tuple[float, float],
          probes: bool, seed: int | None, options: Mapping[str, object]) -> LoadSpec:
    urls = (targets,) if isinstance(targets, str) else tuple(targets)
    try:
        shape_options = ShapeOptions(users=users, seconds=seconds, **options)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise LoadError(str(exc)) from None
    return LoadSpec(tuple(u.rstrip("/") for u in urls), shape, shape_options, think, probes, seed)


def start_load(targets: str | Sequence[str], shape: str = "steady", seconds: float = 60.0, *, users: int = 20,
               think: tuple[float, float] = (1.0, 3.0), probes: bool = True, seed: int | None = None,
               out_dir: str | Path | None = None, cpus: str | None = None, verify: bool = True,
               **options: object) -> LoadRun:
    """Start a run without waiting: use the returned :class:`LoadRun` as a context manager or call
    ``wait()``. ``options``: any other :class:`ShapeOptions` field (``spike_factor``, ``step_users``...)."""
    spec = _spec(targets, shape, seconds, users, think, probes, seed, options)
    return LoadRun(spec, out_dir, cpus=cpus, verify=verify).start()


def run_load(targets: str | Sequence[str], shape: str = "steady", seconds: float = 60.0, *, users: int = 20,
             think: tuple[float, float] = (1.0, 3.0), probes: bool = True, seed: int | None = None,
             out_dir: str | Path | None = None, cpus: str | None = None, verify: bool = True,
             **options: object) -> LoadSummary:
    """Run the named shape headless against ``targets`` (one URL or several) for ``seconds`` with
    ``users`` base users, and return the summary (turns read back unless ``verify=False``)."""
    spec = _spec(targets, shape, seconds, users, think, probes, seed, options)
    return LoadRun(spec, out_dir, cpus=cpus, verify=verify).start().wait()
