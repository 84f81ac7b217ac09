"""Benchmark 3: serving efficiency — the agent at saturation vs its model's own forward-pass limit.

Everything runs on the server CPUs with the same torch thread count (the agent's default: the CPUs
it may use): two agents (batching on with ``AGENT_MAX_BATCH`` = ``--max-batch``, and off with
``AGENT_MAX_BATCH=1``), and a worker process holding the bare model. Alternating, each round
measures: the bare model classifying back-to-back batches of ``--max-batch`` (and of 1) messages,
and each agent saturated by ``wrk`` (``--connections`` open, every request a real message to one of
many conversations, telemetry on with its defaults: tail sampling in the agent, kept spans
exported to a local OTLP receiver). Same messages
everywhere. Target: agent ≥ 85% of the bare model's batched limit.

    python -m agentwatch.bench.serving [--quick] [--rounds N] [--seconds S] [--max-batch 8]
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence

from agentwatch.bench.agents import PinnedAgent, pin_process, scrape
from agentwatch.bench.harness import (
    Pinning,
    Result,
    Target,
    alternate,
    base_parser,
    finish,
    ratio,
    rounds_for,
    start_all,
    summarize,
)
from agentwatch.bench.model_limit import ModelWorker
from agentwatch.bench.workload import MESSAGES
from agentwatch.bench.wrk import run_wrk
from agentwatch.local.otlp_receiver import OtlpReceiver
from agentwatch.local.processes import RedisServer
from agentwatch.telemetry import catalogue as c

__all__ = ["main"]

TARGET = 0.85
BODIES = [json.dumps({"text": m}) for m in MESSAGES]


def main(argv: Sequence[str] | None = None) -> Result:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="seconds per run (default 10, quick 3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per variant")
    parser.add_argument("--no-unbatched", action="store_true",
                        help="skip the batch-1 model and the AGENT_MAX_BATCH=1 agent")
    parser.add_argument("--max-batch", type=int, default=8, help="AGENT_MAX_BATCH of the batching agent")
    args = parser.parse_args(argv)
    rounds = rounds_for(args)
    seconds = args.seconds or (3 if args.quick else 10)
    pinning = Pinning.detect(not args.no_pin)
    threads = len(pinning.server.split(",")) if pinning.server else len(__import__("os").sched_getaffinity(0))
    print(f"serving efficiency: {rounds} rounds x {seconds:g}s; torch threads {threads}; {pinning.reason}",
          flush=True)
    variants = ["model", "agent"] + ([] if args.no_unbatched else ["model_b1", "agent_nobatch"])
    batch_sizes: dict[str, list[float]] = {v: [] for v in variants if v.startswith("agent")}
    latencies: dict[str, list[float]] = {v: [] for v in variants if v.startswith("agent")}
    cpu_per_message: dict[str, list[float]] = {v: [] for v in variants}
    with OtlpReceiver(keep_spans=False) as sink, RedisServer() as redis_server, contextlib.ExitStack() as stack:
        pin_process(redis_server.process.pid, pinning.load)
        otlp = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint}
        subjects = start_all(stack, [
            ModelWorker(pinning.server, threads),
            PinnedAgent(redis_server.url, pinning, {"AGENT_MAX_BATCH": str(args.max_batch), **otlp}),
            *([] if args.no_unbatched else [PinnedAgent(redis_server.url, pinning, {"AGENT_MAX_BATCH": "1", **otlp})])])
        worker = subjects[0]
        agents = dict(zip(["agent", "agent_nobatch"], subjects[1:], strict=False))

        def run(variant: str, r: int, duration: float = seconds) -> float:
            if variant.startswith("model"):
                rate = worker.items_per_second(args.max_batch if variant == "model" else 1, duration)
                if r >= 0:
                    cpu_per_message[variant].append(worker.last_cpu_ms_per_item)
                return rate
            agent = agents[variant]
            before = scrape(agent.url)
            stats = run_wrk(f"{agent.url}/v1/conversations/{variant}-r{r}-{{n}}/messages", seconds=duration,
                            connections=args.connections, body=BODIES, distinct=500, pinning=pinning,
                            timeout_s=5, server_pid=agent.pid)
            after = scrape(agent.url)
            batches = after.value(c.INFERENCE_BATCH_SIZE.count) - before.value(c.INFERENCE_BATCH_SIZE.count)
            items = after.value(c.INFERENCE_BATCH_SIZE.sum) - before.value(c.INFERENCE_BATCH_SIZE.sum)
            if r >= 0:
                batch_sizes[variant].append(items / batches if batches else 0.0)
                latencies[variant].append(stats.p99_ms)
                cpu_per_message[variant].append(stats.cpu_ms_per_request)
            if stats.non_2xx:
                print(f"  {variant}: {stats.non_2xx} non-2xx responses of {stats.requests}", flush=True)
            return stats.ok_rps

        for variant in variants:
            run(variant, -1, args.warmup)
        results = alternate(variants, rounds, run, lambda v, r, x: print(
            f"  round {r + 1}/{rounds} {v:>13}: {x:7.1f} items/s", flush=True))
        spans = sink.snapshot()

    result = Result("serving", "Serving efficiency: agent vs the bare model (benchmark 3)", args.quick,
                    {"rounds": rounds, "seconds_per_run": seconds, "connections": args.connections,
                     "max_batch": args.max_batch, "torch_threads": threads,
                     "telemetry": "on, defaults (tail sampling: errors, slow, 10%), OTLP/HTTP to a local receiver"})
    what = {"model": f"bare model, batches of {args.max_batch}", "agent": f"agent, AGENT_MAX_BATCH={args.max_batch}",
            "model_b1": "bare model, batches of 1", "agent_nobatch": "agent, AGENT_MAX_BATCH=1"}
    for variant in variants:
        spread = summarize(results[variant])
        row = {"variant": what[variant], "items/s min": spread["min"], "items/s median": spread["median"],
               "items/s max": spread["max"],
               "vs bare batched (medians)": ratio(results[variant], results["model"])["of_medians"]}
        row["CPU ms/item"] = summarize(cpu_per_message[variant])["median"]
        row["CPU ratio"] = summarize(cpu_per_message["model"])["median"] / row["CPU ms/item"]
        if variant in batch_sizes:
            row["mean batch"] = summarize(batch_sizes[variant])["median"]
            row["p99 ms"] = summarize(latencies[variant])["median"]
        result.rows.append(row)
    efficiency = ratio(results["agent"], results["model"])
    result.targets.append(Target(f"agent (batch {args.max_batch}) / bare model (batch {args.max_batch})",
                                 f">= {TARGET:.0%}", efficiency["of_medians"], efficiency["of_medians"] >= TARGET,
                                 note=f"per round {efficiency['paired_min']:.2f}-{efficiency['paired_max']:.2f}"))
    if not args.no_unbatched:
        batching_gain = ratio(results["agent"], results["agent_nobatch"])["of_medians"]
        model_gain = ratio(results["model"], results["model_b1"])["of_medians"]
        result.notes.append(f"batching on vs off in the agent: {batching_gain:.2f}x the throughput "
                            f"(the bare model gains {model_gain:.2f}x from batch 1 to batch {args.max_batch})")
    result.notes.append("CPU ratio = bare batched model CPU per item / this variant's CPU per item (all threads "
                        "of the process): the efficiency on CPUs of its own, robust to other load on the machine")
    result.notes.append(f"{spans:,} spans exported to the local OTLP receiver during the run")
    return finish(result, pinning, args, argv)


if __name__ == "__main__":
    main()
