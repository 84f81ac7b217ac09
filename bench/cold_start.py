"""Benchmark 6: cold start — process start to ``/readyz`` 200, and where the time goes.

Alternating rounds, all pinned to the server CPUs:

* **agent** — ``agentwatch serve`` started cold; wall time from spawn to the first ``/readyz`` 200.
  The agent's own gauges split it: ``agent_cold_start_duration_seconds`` (process start → ready),
  ``agent_model_load_duration_seconds`` (weights, intent prototypes and warm-up) and the warm-up
  forward pass (``agent_inference_duration_seconds_sum{operation="warmup"}``).
* **imports** — a fresh interpreter importing what the agent imports (timed from inside).
* **bare** — what a service loading this model the usual way pays: a fresh interpreter importing
  torch and transformers, loading tokenizer and weights with ``AutoModel``, one forward pass; it
  also times embedding the intent examples (the prototypes the agent now reads from its package).

Target: ≤ 4 s to ready on this machine.

    python -m agentwatch.bench.cold_start [--quick] [--rounds N]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence

from agentwatch.bench.agents import PinnedAgent, pin_process, scrape
from agentwatch.bench.harness import (
    Pinning,
    Result,
    Target,
    alternate,
    base_parser,
    finish,
    rounds_for,
    summarize,
)
from agentwatch.local.processes import RedisServer
from agentwatch.telemetry import catalogue as c

__all__ = ["main"]

TARGET_S = 4.0

_IMPORTS = """
import time; t = time.perf_counter()
import uvicorn, fastapi, redis.asyncio, torch
import agentwatch.agent.app, agentwatch.agent.model, agentwatch.agent.server, agentwatch.cli
print(time.perf_counter() - t)
"""

_BARE = """
import json, time; t0 = time.perf_counter()
import torch
from transformers import AutoModel, AutoTokenizer
t1 = time.perf_counter()
from agentwatch.agent.settings import default_model_path
from agentwatch.agent.intents import load_intents
path = default_model_path()
torch.set_num_threads({threads})
tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
enc = AutoModel.from_pretrained(path, local_files_only=True).eval()
t2 = time.perf_counter()
def embed(texts):
    with torch.inference_mode():
        return enc(**tok(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")).last_hidden_state
embed(["hello, where is my order?"])
t3 = time.perf_counter()
for examples in load_intents().values():
    embed(list(examples))
t4 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "load": t2 - t1, "forward": t3 - t2, "prototypes": t4 - t3}}))
"""


def _python(code: str, pinning: Pinning) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(pinning.wrap([sys.executable, "-c", code], "server"), capture_output=True, text=True,
                         timeout=300, env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                                           **__import__("os").environ})
    if out.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed: {out.stderr[-2000:]}")
    return time.perf_counter() - start, out.stdout.strip().splitlines()[-1]


def main(argv: Sequence[str] | None = None) -> Result:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--no-imports-probe", action="store_true",
                        help="skip the separate import timing (the agent's import phase is then not split out)")
    args = parser.parse_args(argv)
    rounds = rounds_for(args, full=5, quick=1)
    pinning = Pinning.detect(not args.no_pin)
    threads = len(pinning.server.split(",")) if pinning.server else len(__import__("os").sched_getaffinity(0))
    print(f"cold start: {rounds} rounds; {pinning.reason}", flush=True)
    with RedisServer() as redis_server:
        pin_process(redis_server.process.pid, pinning.load)

        def run(variant: str, _r: int) -> dict[str, float]:
            if variant == "imports":
                wall, line = _python(_IMPORTS, pinning)
                return {"wall": wall, "import": float(line)}
            if variant == "bare":
                wall, line = _python(_BARE.format(threads=threads), pinning)
                return {"wall": wall, **json.loads(line)}
            start = time.perf_counter()
            with PinnedAgent(redis_server.url, pinning) as agent:
                wall = time.perf_counter() - start
                s = scrape(agent.url)
                return {"wall": wall, "cold_start": s.value(c.COLD_START_DURATION.name),
                        "model_load": s.value(c.MODEL_LOAD_DURATION.name),
                        "warmup": s.value(c.INFERENCE_DURATION.sum, operation="warmup")}

        variants = ["agent", "bare"] if args.no_imports_probe else ["agent", "imports", "bare"]
        results = alternate(variants, rounds, run,
                            lambda v, r, x: print(f"  round {r + 1}/{rounds} {v:>7}: {x['wall']:.2f} s", flush=True))

    med = {v: {k: summarize([x[k] for x in xs])["median"] for k in xs[0]} for v, xs in results.items()}
    agent, bare = med["agent"], med["bare"]
    weights_and_prototypes = agent["model_load"] - agent["warmup"]
    before_model = agent["cold_start"] - agent["model_load"]
    if "imports" in med:
        startup_rows = [
            {"phase": "  interpreter + imports (fresh interpreter, timed inside)", "seconds": med["imports"]["import"]},
            {"phase": "  settings, app, telemetry, uvicorn start (the rest, derived)",
             "seconds": before_model - med["imports"]["import"]}]
    else:
        startup_rows = [{"phase": "  interpreter, imports, app start (not split: --no-imports-probe)",
                         "seconds": before_model}]
    result = Result("cold_start", "Cold start: process start to /readyz 200 (benchmark 6)", args.quick,
                    {"rounds": rounds, "torch_threads": threads, "phases": "medians over rounds"})
    walls = summarize([x["wall"] for x in results["agent"]])
    result.rows += [
        {"phase": "spawn → /readyz 200 (wall, polled every 50 ms)", "seconds": agent["wall"],
         "min": walls["min"], "max": walls["max"]},
        {"phase": "process start → ready (agent_cold_start_duration_seconds)", "seconds": agent["cold_start"]},
        *startup_rows,
        {"phase": "  model load: tokenizer, weights, intent prototypes (packaged)", "seconds": weights_and_prototypes},
        {"phase": "  warm-up forward pass", "seconds": agent["warmup"]},
        {"phase": "baseline: bare script, wall (import torch+transformers, load, 1 forward)", "seconds": bare["wall"],
         "min": summarize([x["wall"] for x in results["bare"]])["min"],
         "max": summarize([x["wall"] for x in results["bare"]])["max"]},
        {"phase": "  bare: import torch + transformers", "seconds": bare["import"]},
        {"phase": "  bare: load tokenizer + weights", "seconds": bare["load"]},
        {"phase": "  bare: first forward pass", "seconds": bare["forward"]},
        {"phase": "  bare: embedding the intent examples (the agent's prototypes)", "seconds": bare["prototypes"]},
    ]
    result.targets.append(Target("spawn → /readyz 200", f"<= {TARGET_S:g} s", agent["wall"], agent["wall"] <= TARGET_S,
                                 unit="s", note=f"{agent['wall'] / bare['wall']:.2f}x a bare transformers load"))
    biggest = max(result.rows[2:4 + len(startup_rows)], key=lambda row: row["seconds"])
    result.notes.append(f"largest phase: {biggest['phase'].strip()} ({biggest['seconds']:.2f} s)")
    return finish(result, pinning, args, argv)


if __name__ == "__main__":
    main()
