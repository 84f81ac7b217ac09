"""``agentwatch capacity``: how much one pod takes at the SLO, measured.

One agent process gets the CPU a pod would get: it is pinned with ``taskset`` to one CPU and runs
``AGENT_TORCH_THREADS`` torch threads; the load generator (Locust, the ``ramp`` shape), Redis and
this process stay on the other CPUs. Traces are exported over OTLP/HTTP to a local receiver, as a
pod exports them to a Collector. The ramp steps users up until the spec's latency SLO breaks;
every second the agent's ``/metrics`` are scraped for queue length, forward-pass time, CPU and
RSS. The result (steps, capacity, knee, autoscaling targets, resources) is written as
``capacity.json`` (the benchmark results' format, plus the raw samples) and ``capacity.png``.

Usage::

    result = run_capacity(CapacitySettings(spec=Path("agentwatch.yaml"), quick=True))
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentwatch.bench.agents import PinnedAgent, pin_process
from agentwatch.bench.harness import Pinning, host_info
from agentwatch.capacity.analysis import (
    UTILISATION,
    StepStats,
    autoscaling_targets,
    capacity_step,
    knee_step,
    step_stats,
)
from agentwatch.capacity.recommend import Policy, profile_from_capacity, recommend
from agentwatch.capacity.sampler import Sampler
from agentwatch.load.runner import LoadRun, LoadSpec
from agentwatch.load.shapes import ShapeOptions
from agentwatch.load.slo import MessageSLO
from agentwatch.local.otlp_receiver import OtlpReceiver
from agentwatch.local.processes import RedisServer
from agentwatch.spec import load_spec

__all__ = ["FULL", "QUICK", "CapacitySettings", "run_capacity"]

MIB = 1024 * 1024
#: Priority of the measured processes when this runs as root: on a shared machine a pod's CPU request
#: still buys its share of a busy node (cgroup weight); a raised priority is the nearest thing here.
NICE = -10


def priority() -> tuple[list[str], str]:
    """The ``nice`` prefix for the agent and the load generator, and how to say it in the output."""
    if os.geteuid() == 0 and shutil.which("nice"):
        return ["nice", "-n", str(NICE)], f"agent and load generator at nice {NICE}"
    return [], "normal priority (not root: nice cannot raise it)"


class CapacityAgent(PinnedAgent):
    """The pinned agent, at the measurement's priority."""

    def __init__(self, redis_url: str, pinning: Pinning, env: dict[str, str], prefix: list[str]) -> None:
        super().__init__(redis_url, pinning, env)
        self.prefix = prefix

    def command(self) -> list[str]:
        cmd = super().command()
        if cmd[0] == "taskset":  # taskset -c N nice -n -10 python ...
            return [*cmd[:3], *self.prefix, *cmd[3:]]
        return [*self.prefix, *cmd]


@dataclass(frozen=True)
class Ramp:
    users: int
    step_users: int
    step_seconds: float
    warmup_seconds: float
    breaches: int
    max_users: int


#: ``make capacity``: 20 s steps of 15 users, two breaking steps to see past the knee.
FULL = Ramp(users=10, step_users=15, step_seconds=20, warmup_seconds=3, breaches=2, max_users=800)
#: ``--quick`` (the live test): a steep ramp in 6 s steps, stopped at the first breaking step.
QUICK = Ramp(users=20, step_users=60, step_seconds=6, warmup_seconds=1.5, breaches=1, max_users=260)


@dataclass(frozen=True)
class CapacitySettings:
    spec: Path = Path("agentwatch.yaml")
    quick: bool = False
    ramp: Ramp | None = None  # default FULL or QUICK
    think: tuple[float, float] = (0.5, 1.5)
    torch_threads: int = 1
    pin: bool = True
    utilisation: float = UTILISATION
    peak_rate: float | None = None
    policy: Policy = field(default_factory=Policy)
    seed: int | None = 11
    agent_env: dict[str, str] = field(default_factory=dict)
    command: str = ""

    @property
    def steps(self) -> Ramp:
        return self.ramp or (QUICK if self.quick else FULL)


def _step_row(s: StepStats) -> dict[str, Any]:
    def ms(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 1)

    return {"users": s.users, "msg/s": round(s.throughput, 1), "p50 ms": ms(s.p50), "p95 ms": ms(s.p95),
            "p99 ms": ms(s.p99), "within SLO": f"{s.good_ratio:.2%}", "errors": f"{s.error_ratio:.2%}",
            "SLO held": s.slo_ok, "queue (mean)": None if s.queue_length is None else round(s.queue_length, 2),
            "forward pass ms": ms(s.inference_time),
            "batch": None if s.batch_size is None else round(s.batch_size, 2),
            "CPU cores": None if s.cpu_cores is None else round(s.cpu_cores, 2),
            "CPU wait": None if s.cpu_wait is None else round(s.cpu_wait, 2),
            "CPU ms/msg": None if s.cpu_per_message is None else round(s.cpu_per_message * 1000, 2),
            "RSS MiB": None if s.rss_bytes is None else round(s.rss_bytes / MIB)}


def run_capacity(settings: CapacitySettings, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure, analyse and return the capacity document (nothing written; see :func:`write`)."""
    from agentwatch.agent.settings import AgentSettings

    slo = MessageSLO.from_spec(load_spec(settings.spec))
    ramp = settings.steps
    pinning = Pinning.detect(enabled=settings.pin)
    loadavg_start = os.getloadavg()
    env = {"AGENT_TORCH_THREADS": str(settings.torch_threads), **settings.agent_env}
    agent_settings = AgentSettings.from_env({**os.environ, **env})
    prefix, priority_text = priority()
    log(f"capacity: one agent, {pinning.reason}; AGENT_TORCH_THREADS={settings.torch_threads}; {priority_text}; "
        f"SLO {slo.describe()}")
    options = ShapeOptions(users=ramp.users, seconds=3600, step_users=ramp.step_users, step_seconds=ramp.step_seconds,
                           warmup_seconds=ramp.warmup_seconds, max_users=ramp.max_users, breaches=ramp.breaches,
                           slo_latency=slo.threshold, slo_objective=slo.objective, slo_error_ratio=slo.error_ratio)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="agentwatch-capacity-")))
        receiver = stack.enter_context(OtlpReceiver(keep_spans=False))
        redis = stack.enter_context(RedisServer())
        assert redis.process is not None
        pin_process(redis.process.pid, pinning.load)
        log("capacity: starting the agent (model load and warm-up)")
        agent = stack.enter_context(CapacityAgent(redis.url, pinning, {
            **env, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "agentwatch-capacity"},
            prefix))
        stack.enter_context(pinning.pin_self("load"))
        sampler = stack.enter_context(Sampler(agent.url, pid=agent.pid))
        spec = LoadSpec((agent.url,), "ramp", options, settings.think, probes=False, seed=settings.seed)
        run = LoadRun(spec, workdir / "load", cpus=pinning.load, prefix=prefix)
        log(f"capacity: ramp from {ramp.users} users, +{ramp.step_users} every {ramp.step_seconds:g}s, until "
            f"{ramp.breaches} step(s) break the SLO (at most {ramp.max_users} users)")
        summary = run.start().wait(timeout=3600)
        time.sleep(1.0)  # one more scrape after the last step
    samples = sampler.samples
    steps = [step_stats(s, samples) for s in summary.steps]
    best, knee = capacity_step(steps), knee_step(steps)
    targets = autoscaling_targets(steps, settings.utilisation)
    load1, load5, _ = os.getloadavg()
    result: dict[str, Any] = {
        "name": "capacity",
        "title": "Per-pod capacity at the SLO (agentwatch capacity)",
        "quick": settings.quick,
        "settings": {
            "pinning": pinning.reason, "priority": priority_text, "torch_threads": settings.torch_threads,
            "max_batch": agent_settings.max_batch, "max_wait_ms": agent_settings.max_wait_ms,
            "queue_capacity": agent_settings.queue_capacity, "request_timeout_ms": agent_settings.request_timeout_ms,
            "telemetry": "on, traces exported over OTLP/HTTP to a local receiver",
            "load": f"Locust ramp, {ramp.users} users +{ramp.step_users} every {ramp.step_seconds:g}s "
                    f"({ramp.warmup_seconds:g}s warm-up unmeasured), think time {settings.think[0]:g}-"
                    f"{settings.think[1]:g}s, every persona, no malformed requests",
            "slo": slo.describe(),
        },
        "rows": [_step_row(s) for s in steps],
        "targets": [{"what": "acknowledged turns lost during the ramp", "bar": "== 0",
                     "measured": summary.turns_lost, "met": summary.turns_lost == 0, "unit": "turns",
                     "note": f"{summary.turns_acknowledged} turns read back"}],
        "notes": [],
        "host": {**host_info(pinning), "loadavg_1m_at_start": round(loadavg_start[0], 2),
                 "loadavg_5m_at_start": round(loadavg_start[1], 2),
                 "loadavg_1m_at_end": round(load1, 2), "loadavg_5m_at_end": round(load5, 2)},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": settings.command or "agentwatch capacity" + (" --quick" if settings.quick else ""),
        "slo": asdict(slo),
        "steps": [s.to_dict() for s in steps],
        "capacity": best.to_dict() if best else None,
        "cpu_per_message": _cpu_per_message(steps),
        "knee": knee.to_dict() if knee else None,
        "broken_by": _broken_by(summary.errors_by_class, steps),
        "autoscaling": targets.to_dict() if targets else None,
        "load": {k: summary.to_dict()[k] for k in ("requests", "messages", "errors_by_class", "turns_acknowledged",
                                                   "turns_lost", "conversations")},
        "spans_exported": receiver.span_count,
        "samples": [s.to_dict() for s in samples],
    }
    if best is not None:
        rec = recommend(profile_from_capacity(result, "this capacity run", settings.utilisation),
                        Policy(settings.policy.cpu_percentile, settings.policy.memory_headroom, settings.utilisation),
                        settings.peak_rate)
        result["resources"] = rec.to_dict()
    result["notes"] = _notes(result)
    return result


#: Seconds per second the agent may wait for its CPU before a step counts as contended.
CONTENDED = 0.25


def _broken_by(errors: dict[str, int], steps: list[StepStats]) -> str | None:
    """What broke the SLO first: errors (by class) or latency; and whether other processes had the CPU."""
    first = next((s for s in steps if not s.slo_ok), None)
    if first is None:
        return None
    if first.error_ratio > 0 and errors:
        top = max(errors, key=lambda k: errors[k])
        what = f"errors at {first.users} users ({first.error_ratio:.2%}, mostly {top})"
    else:
        what = f"latency at {first.users} users ({first.good_ratio:.2%} within the threshold)"
    if first.cpu_wait is not None and first.cpu_wait > CONTENDED:
        what += (f"; the agent waited {first.cpu_wait:.2f} s per second for its CPU and used "
                 f"{first.cpu_cores or 0:.2f} cores: other processes took it (a lower bound, not the pod's limit)")
    return what


def _cpu_per_message(steps: list[StepStats]) -> float | None:
    """Median CPU seconds per message over the steps that held the SLO."""
    import statistics

    costs = [s.cpu_per_message for s in steps if s.slo_ok and s.cpu_per_message]
    return statistics.median(costs) if costs else None


def _notes(result: dict[str, Any]) -> list[str]:
    notes = []
    cap, knee, targets = result["capacity"], result["knee"], result["autoscaling"]
    if cap and not result["broken_by"]:
        notes.append("the SLO never broke before the ramp's last step: the capacity below is a lower bound")
    if cap:
        notes.append(f"capacity: {cap['throughput']:.1f} msg/s at {cap['users']} users with the SLO held "
                     f"(p99 {cap['p99'] * 1000:.0f} ms; queue {cap['queue_length']:.2f}, forward pass "
                     f"{cap['inference_time'] * 1000:.1f} ms, batch {cap['batch_size']:.1f}, "
                     f"CPU {cap['cpu_cores']:.2f} cores)")
    else:
        notes.append("no step held the SLO: the first step is already past this agent's capacity")
    if result["broken_by"]:
        notes.append(f"SLO broken first by {result['broken_by']}")
    cost = result.get("cpu_per_message")
    if cost:
        notes.append(f"CPU per message (median of the steps that held the SLO): {cost * 1000:.1f} ms, whatever the "
                     f"neighbours took; a whole CPU at that cost would answer at most {1 / cost:.0f} msg/s "
                     "(a ceiling, not a capacity: latency is not measured there)")
    if knee:
        notes.append(f"knee of the latency curve at {knee['users']} users ({knee['throughput']:.1f} msg/s, "
                     f"p99 {knee['p99'] * 1000:.0f} ms)")
    if targets:
        notes.append(f"autoscaling: queue_length_target {targets['queue_length_target']:g}, inference_time_target "
                     f"{targets['inference_time_target']:g} s ({targets['rule']})")
    res = result.get("resources")
    if res:
        notes.append(f"resources: requests cpu {res['cpu_request']}, memory {res['memory_request']}; limits memory "
                     f"{res['memory_limit']} (p{res['policy']['cpu_percentile']:g} CPU at ~{res['planned_rate']:.1f} "
                     f"msg/s = {res['cpu_cores']:.3f} cores; peak RSS {res['memory_peak_bytes'] / MIB:.0f} MiB)")
    host = result["host"]
    notes.append(f"machine load average (1 min) {host['loadavg_1m_at_start']} at start, "
                 f"{host['loadavg_1m_at_end']} at end, on {host['cpus']} CPUs shared with other work")
    return notes


def write(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """``capacity.json`` and ``capacity.png`` in ``out_dir``."""
    import json

    from agentwatch.capacity.plot import plot_capacity

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "capacity.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path, plot_capacity(result, out_dir / "capacity.png")


def command_line(argv: list[str] | None = None) -> str:
    args = sys.argv[1:] if argv is None else argv
    return "agentwatch " + shlex.join(args)
