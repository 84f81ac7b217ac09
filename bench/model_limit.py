"""The bare model's forward-pass limit, in a pinned worker process that loads the model once.

The worker runs :meth:`IntentModel.classify` — the very function the agent's batcher calls —
back to back on batches of the benchmark messages, with the torch thread count the agent uses,
on the same CPUs. Rounds are requested over a pipe so they can alternate with agent load runs.

Usage::

    with ModelWorker(pinning.server, threads=1) as worker:
        worker.items_per_second(batch=8, seconds=5)
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Self

from agentwatch.bench.workload import MESSAGES

__all__ = ["ModelWorker"]


def _serve(conn: Connection, cpus: str | None, threads: int) -> None:
    if cpus:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    from agentwatch.agent.model import IntentModel
    from agentwatch.agent.settings import AgentSettings

    settings = AgentSettings.from_env()
    model = IntentModel.load(settings.model_path, name=settings.model_name, threads=threads)
    model.classify(list(MESSAGES[:4]))  # warm-up, like the agent's
    conn.send("ready")
    while True:
        request = conn.recv()
        if request is None:
            return
        batch, seconds = request
        done, i, start, cpu = 0, 0, time.perf_counter(), time.process_time()
        while (elapsed := time.perf_counter() - start) < seconds:
            texts = [MESSAGES[(i + k) % len(MESSAGES)] for k in range(batch)]
            model.classify(texts)
            done += batch
            i += batch
        conn.send((done, elapsed, time.process_time() - cpu))


class ModelWorker:
    """A child process holding the loaded model; ``items_per_second`` runs one timed round."""

    def __init__(self, cpus: str | None, threads: int) -> None:
        self.cpus, self.threads = cpus, threads
        #: CPU milliseconds per item of the last round (all threads of the worker process).
        self.last_cpu_ms_per_item = float("nan")
        ctx = mp.get_context("spawn")  # never fork a process that may hold torch threads
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, cpus, threads), daemon=True)

    def __enter__(self) -> Self:
        self.process.start()
        if not self.conn.poll(300):
            raise RuntimeError("model worker did not load the model within 300 s")
        self.conn.recv()
        return self

    def items_per_second(self, batch: int, seconds: float) -> float:
        """Classify batches of ``batch`` messages for ``seconds``; items per second of wall time."""
        self.conn.send((batch, seconds))
        done, elapsed, cpu = self.conn.recv()
        self.last_cpu_ms_per_item = cpu * 1e3 / done
        return done / elapsed

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send(None)
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
