"""``agentwatch lab``: the HPA controller in a closed loop with real agents, a real Prometheus and load.

One scenario is: redis-server, a router playing the Service (:mod:`~agentwatch.autoscaling.router`),
real agent processes (:mod:`~agentwatch.autoscaling.fleet`), a real Prometheus scraping them with
the ``namespace``/``pod`` labels the Prometheus Operator adds, and a spike of load
(:mod:`~agentwatch.autoscaling.driver`). Every sync period the *same* controller code as
``agentwatch hpa-sim`` (:class:`~agentwatch.autoscaling.hpa.HorizontalController`) reads the
signals through the adapter's own ``metricsQuery`` rendered as the adapter renders it (or the
pods' CPU, as metrics-server would report it) and its decision is applied: new agents are real
processes with a real cold start, removed ones leave the Service and get SIGTERM.

Every agent's capacity is pinned the same way in every run: ``AGENT_INFERENCE_FLOOR_MS`` makes a
forward pass of n requests last at least n x floor, so an agent serves at most 1000 / floor
messages per second whatever the two shared cores are doing; the point is the control loop.

Scenarios: ``agent`` (queue length + inference time, the generated HPA), ``cpu`` (CPU
utilisation only), ``prewarm`` (``agent`` with the floor raised ``prewarm_lead_s`` before the spike,
as the generated CronJob or KEDA cron trigger would).

Usage::

    result = run_scenario(LabConfig.quick(), "agent", out_dir)
    result.lost_turns, result.max_replicas
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import httpx
import yaml

from agentwatch import promql as q
from agentwatch.autoscaling.driver import HttpxDriver, LoadDriver, LoadRecord, StepShape, spike_shape
from agentwatch.autoscaling.fleet import Fleet
from agentwatch.autoscaling.hpa import (
    Decision,
    HorizontalController,
    HPASpec,
    MetricSpec,
    MetricUnavailable,
    Sample,
)
from agentwatch.autoscaling.manifest import hpa_from_dict
from agentwatch.autoscaling.router import HEALTH_PATH
from agentwatch.k8s.adapter import adapter_rules, render_metrics_query
from agentwatch.k8s.autoscalers import horizontal_pod_autoscaler
from agentwatch.local.processes import HttpProcess, PrometheusServer, RedisServer
from agentwatch.spec import Spec
from agentwatch.spec.model import Autoscaling, ScalingPolicy, duration_seconds

__all__ = ["SCENARIOS", "LabConfig", "ScenarioResult", "lab_spec", "run_scenario", "scenario_hpa"]

ScenarioName = Literal["agent", "cpu", "prewarm"]
SCENARIOS: dict[str, str] = {
    "agent": "queue length + inference time",
    "cpu": "CPU utilisation only",
    "prewarm": "queue length + inference time, pre-warmed before the spike",
}


@dataclass(frozen=True)
class LabConfig:
    """Everything a lab run depends on; ``quick()`` is the ~90 s version ``make test`` runs."""

    floor_ms: float = 100.0
    max_batch: int = 8
    min_replicas: int = 2
    max_replicas: int = 8
    base_rate: float = 8.0
    spike_factor: float = 5.0
    before_s: float = 120.0
    spike_s: float = 180.0
    after_s: float = 420.0
    burst_at_s: float | None = None
    burst_len_s: float = 8.0
    burst_factor: float = 3.0
    scrape_interval: str = "15s"
    sync_period_s: float = 15.0
    probe_period_s: float = 5.0
    #: None: the spec's windows; set for the quick run (a shortened scale-down window).
    scale_up_window_s: int | None = None
    scale_down_window_s: int | None = None
    scale_down_policy: ScalingPolicy | None = None
    prewarm_replicas: int = 6
    prewarm_lead_s: float = 60.0
    cpu_target_utilization: int = 80
    #: CPU request per agent in millicores; None: measured (one agent's CPU at its capacity).
    cpu_request_m: int | None = None

    @classmethod
    def quick(cls) -> LabConfig:
        """Short windows and one spike: min 1 -> more replicas -> back to 1, in about a minute and a half."""
        return cls(floor_ms=100.0, min_replicas=1, max_replicas=3, base_rate=3.0, spike_factor=7.0, before_s=10.0,
                   spike_s=25.0, after_s=40.0, burst_at_s=None, scrape_interval="1s", sync_period_s=2.0,
                   probe_period_s=1.0, scale_up_window_s=0, scale_down_window_s=12,
                   scale_down_policy=ScalingPolicy(stabilization_window_seconds=12, percent=100, period_seconds=2),
                   prewarm_replicas=2, prewarm_lead_s=10.0)

    @property
    def capacity_per_agent(self) -> float:
        """Messages per second one agent can serve at most (the floor's cap)."""
        return 1000.0 / self.floor_ms

    @property
    def inference_time_target(self) -> float:
        """The spec's rule (0.8 x a full batch's forward pass) applied to the floor-capped agent."""
        return round(0.8 * self.max_batch * self.floor_ms / 1000, 3)

    def shape(self) -> StepShape:
        return spike_shape(self.base_rate, self.spike_factor, self.before_s, self.spike_s, self.after_s,
                           self.burst_at_s, self.burst_len_s, self.burst_factor)


def lab_spec(spec: Spec, cfg: LabConfig) -> Spec:
    """The spec with the lab's overrides: replica range, scrape interval (so the adapter's window is
    4 lab scrapes), the inference-time target for floor-capped agents, and any shortened windows."""
    auto = spec.autoscaling or Autoscaling()
    update: dict[str, Any] = {"min_replicas": cfg.min_replicas, "max_replicas": cfg.max_replicas,
                              "scrape_interval": cfg.scrape_interval, "smoothing_window": None,
                              "inference_time_target": cfg.inference_time_target, "prewarm": None}
    if cfg.scale_up_window_s is not None:
        update["scale_up"] = auto.scale_up.model_copy(update={"stabilization_window_seconds": cfg.scale_up_window_s})
    if cfg.scale_down_policy is not None:
        update["scale_down"] = cfg.scale_down_policy
    elif cfg.scale_down_window_s is not None:
        update["scale_down"] = auto.scale_down.model_copy(
            update={"stabilization_window_seconds": cfg.scale_down_window_s})
    return spec.model_copy(update={"autoscaling": auto.model_copy(update=update)})


def scenario_hpa(spec: Spec, cfg: LabConfig, scenario: ScenarioName) -> tuple[dict[str, Any], HPASpec]:
    """The HPA object the scenario's controller follows (as YAML-able dict) and its parsed form."""
    obj = horizontal_pod_autoscaler(lab_spec(spec, cfg))
    if scenario == "cpu":
        obj["spec"]["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": cfg.cpu_target_utilization}}}]
    return obj, hpa_from_dict(obj, f"lab:{scenario}")


@dataclass
class SyncRecord:
    time: float
    replicas: int
    desired: int
    ready: int
    min_replicas: int
    per_pod: dict[str, float | None]
    reason: str


@dataclass
class ScenarioResult:
    """What one scenario did; times are seconds since the load started."""

    scenario: str
    config: LabConfig
    hpa: dict[str, Any]
    started: float
    syncs: list[SyncRecord] = field(default_factory=list)
    ready_series: list[tuple[float, int, int]] = field(default_factory=list)  # (t, ready, live)
    record: LoadRecord | None = None
    cold_starts: list[float] = field(default_factory=list)
    prometheus: dict[str, Any] = field(default_factory=dict)
    cpu_request_m: int | None = None
    marks: dict[str, float] = field(default_factory=dict)
    #: The load as ``hpa-sim --prometheus`` builds it from this run's Prometheus (time 0 = load start).
    replay_load: Any = None

    @property
    def lost_turns(self) -> int:
        return self.record.lost_turns if self.record else 0

    @property
    def max_replicas(self) -> int:
        return max((s.desired for s in self.syncs), default=0)


def _prometheus_config(job: str, interval: str, targets: Path) -> str:
    return yaml.safe_dump({
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [{"job_name": job, "file_sd_configs": [{"files": [str(targets)], "refresh_interval": "1s"}]}],
    }, sort_keys=False)


class _Router(HttpProcess):
    name = "router"
    ready_path = HEALTH_PATH

    def command(self) -> list[str]:
        import sys

        return [sys.executable, "-m", "agentwatch.autoscaling.router", "--port", str(self.port)]


class _Run:
    """One scenario's live loop (controller, kubelet, pre-warm schedule) while the load runs."""

    def __init__(self, spec: Spec, cfg: LabConfig, scenario: ScenarioName, hpa: HPASpec, fleet: Fleet,
                 prometheus: PrometheusServer, result: ScenarioResult, log: Callable[[str], None]) -> None:
        self.spec, self.cfg, self.scenario, self.hpa = lab_spec(spec, cfg), cfg, scenario, hpa
        self.fleet, self.prometheus, self.result, self.log = fleet, prometheus, result, log
        self.controller = HorizontalController(hpa)
        self.rules = {r["name"]["as"]: r for r in adapter_rules(self.spec)}
        self.namespace = self.spec.autoscaling.namespace if self.spec.autoscaling else "default"
        self.window = self.spec.autoscaling.signal_window if self.spec.autoscaling else "1m"
        self.replicas = cfg.min_replicas
        self.t0 = 0.0

    def now(self) -> float:
        return time.time() - self.t0

    def _metric(self, metric: MetricSpec, names: list[str], at: float) -> dict[str, Sample] | MetricUnavailable:
        if not names:
            return MetricUnavailable("no pods")
        window_s = duration_seconds(self.window)
        if metric.type == "Pods":
            query = render_metrics_query(self.rules[metric.name], self.namespace, names)
        else:  # Resource cpu, as metrics-server reports it for a one-process container
            pod_matcher = f"~{'|'.join(names)}" if len(names) > 1 else names[0]
            query = q.cpu_cores_by_pod(q.selector(namespace=self.namespace, pod=pod_matcher), self.window)
        try:
            result = self.prometheus.query(query)
        except Exception as exc:  # an unreachable or failing Prometheus: the metric is invalid this sync
            return MetricUnavailable(str(exc))
        return {r["metric"]["pod"]: Sample(float(r["value"][1]), at, window_s) for r in result}

    async def controller_loop(self, stop: asyncio.Event) -> None:
        requests = {"cpu": self.result.cpu_request_m or 1000}
        while not stop.is_set():
            t = self.now()
            self._prewarm(t)
            listed = self.fleet.listed()
            names = [p.name for p in listed]
            pods = [replace(p.as_pod(requests), start_time=p.created - self.t0,
                            ready_transition_time=p.transition - self.t0) for p in listed]
            metrics = {m.key: await asyncio.to_thread(self._metric, m, names, t) for m in self.hpa.metrics}
            decision = self.controller.sync(t, self.replicas, pods, {
                k: (v if isinstance(v, MetricUnavailable) else {n: replace(s, timestamp=t) for n, s in v.items()})
                for k, v in metrics.items()})
            self._record(t, decision)
            if decision.desired != self.replicas:
                self.log(f"  t={t:6.1f}s  {self.replicas} -> {decision.desired}  ({decision.reason})")
                self.replicas = decision.desired
                self.fleet.scale_to(self.replicas)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.cfg.sync_period_s)

    def _prewarm(self, t: float) -> None:
        if self.scenario != "prewarm":
            return
        start = self.cfg.before_s - self.cfg.prewarm_lead_s
        end = self.cfg.before_s + self.cfg.spike_s
        floor = self.cfg.prewarm_replicas if start <= t < end else self.cfg.min_replicas
        if floor != self.controller.spec.min_replicas:
            self.log(f"  t={t:6.1f}s  pre-warm: minReplicas {self.controller.spec.min_replicas} -> {floor}")
            self.controller.spec = replace(self.controller.spec, min_replicas=floor)
            self.result.marks["prewarm_start" if floor > self.cfg.min_replicas else "prewarm_end"] = t

    def _record(self, t: float, decision: Decision) -> None:
        per_pod = {p.metric.name: (p.current / (1 if p.metric.target_type == "Utilization" else 1000)
                                   if p.current is not None else None) for p in decision.proposals}
        ready = sum(1 for p in self.fleet.live if p.ready)
        self.result.syncs.append(SyncRecord(t, decision.current, decision.desired, ready,
                                            self.controller.spec.min_replicas, per_pod, decision.reason))

    async def probe_loop(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient() as client:
            while not stop.is_set():
                await self.fleet.probe_once(client)
                live = self.fleet.live
                self.result.ready_series.append((self.now(), sum(1 for p in live if p.ready), len(live)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.cfg.probe_period_s)


async def _wait_ready(fleet: Fleet, replicas: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            await fleet.probe_once(client)
            if sum(1 for p in fleet.live if p.ready) >= replicas:
                return
            if any(p.failed for p in fleet.pods):
                raise RuntimeError(f"an agent failed to start: {fleet.pods[-1].agent.output()[-2000:]}")
            await asyncio.sleep(0.5)
    raise RuntimeError(f"{replicas} agents not ready within {timeout:.0f}s")


def _readiness_probe(spec: Spec) -> dict[str, Any]:
    """The generated Deployment's readinessProbe (the lab's kubelet uses its timeout and threshold)."""
    from agentwatch.k8s.workload import deployment

    return deployment(spec)["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]


def run_scenario(spec: Spec, cfg: LabConfig, scenario: ScenarioName, out_dir: Path,
                 driver: LoadDriver | None = None, log: Callable[[str], None] = print,
                 redis: RedisServer | None = None) -> ScenarioResult:
    """Run one scenario end to end and return what happened (services are stopped on return)."""
    return asyncio.run(_run_scenario(spec, cfg, scenario, out_dir, driver or HttpxDriver(), log, redis))


async def _run_scenario(spec: Spec, cfg: LabConfig, scenario: ScenarioName, out_dir: Path, driver: LoadDriver,
                        log: Callable[[str], None], redis: RedisServer | None) -> ScenarioResult:
    hpa_obj, hpa = scenario_hpa(spec, cfg, scenario)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"lab-hpa-{scenario}.yaml").write_text(yaml.safe_dump(hpa_obj, sort_keys=False))
    workdir = Path(tempfile.mkdtemp(prefix="agentwatch-lab-"))
    shape = cfg.shape()
    result = ScenarioResult(scenario, cfg, hpa_obj, time.time(), marks=dict(shape.marks))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, True)
        if redis is None:
            redis = stack.enter_context(RedisServer())
        router = stack.enter_context(_Router())
        targets = workdir / "targets.json"
        env = {"REDIS_URL": redis.url, "AGENT_TORCH_THREADS": "1", "AGENT_INFERENCE_FLOOR_MS": f"{cfg.floor_ms:g}",
               "AGENT_MAX_BATCH": str(cfg.max_batch)}
        namespace = lab_spec(spec, cfg).autoscaling.namespace  # type: ignore[union-attr]
        probe = _readiness_probe(spec)
        fleet = Fleet(env, router.url, targets, namespace=namespace, probe_period_s=cfg.probe_period_s,
                      probe_timeout_s=probe["timeoutSeconds"], failure_threshold=probe["failureThreshold"])
        stack.callback(fleet.close)
        prometheus = stack.enter_context(PrometheusServer(_prometheus_config(spec.service.name, cfg.scrape_interval,
                                                                             targets)))
        log(f"[{scenario}] {SCENARIOS[scenario]}: starting {cfg.min_replicas} agent(s), Prometheus {prometheus.url}")
        fleet.scale_to(cfg.min_replicas)
        await _wait_ready(fleet, cfg.min_replicas, 300)
        if scenario == "cpu":
            result.cpu_request_m = cfg.cpu_request_m or await _calibrate_cpu(cfg, fleet, prometheus, router.url,
                                                                             namespace, log)
        window = lab_spec(spec, cfg).autoscaling.signal_window  # type: ignore[union-attr]
        await asyncio.sleep(duration_seconds(window) + 2 * duration_seconds(cfg.scrape_interval))
        run = _Run(spec, cfg, scenario, hpa, fleet, prometheus, result, log)
        stop = asyncio.Event()
        run.t0 = time.time()
        result.started = run.t0
        loops = [asyncio.create_task(run.controller_loop(stop)), asyncio.create_task(run.probe_loop(stop))]
        try:
            result.record = await driver.run(router.url, shape)
        finally:
            stop.set()
            await asyncio.gather(*loops, return_exceptions=True)
        result.cold_starts = fleet.cold_starts()[cfg.min_replicas:]
        end = time.time()
        result.prometheus = _collect(prometheus, spec, lab_spec(spec, cfg), result, end)
        if scenario == "agent":  # what hpa-sim --prometheus would build from this Prometheus
            from agentwatch.autoscaling.from_prometheus import load_from_prometheus

            result.replay_load = load_from_prometheus(prometheus.url, hpa, lab_spec(spec, cfg),
                                                      f"{int(end - result.started)}s", cfg.sync_period_s, end)
        (out_dir / f"lab-{scenario}.json").write_text(json.dumps(_as_json(result), indent=1))
    return result


async def _calibrate_cpu(cfg: LabConfig, fleet: Fleet, prometheus: PrometheusServer, router_url: str,
                         namespace: str, log: Callable[[str], None]) -> int:
    """One way a platform engineer sizes the CPU request: the CPU an agent uses at its capacity.
    Drive the running agents at 1.2x their capacity for a short while and read their CPU."""
    seconds = 30.0
    rate = 1.2 * cfg.capacity_per_agent * len(fleet.live)
    shape = StepShape(((0.0, rate),), seconds)
    await HttpxDriver(turn_deadline_s=5.0).run(router_url, shape)
    window = f"{int(seconds * 0.6)}s"
    result = await asyncio.to_thread(prometheus.query, q.cpu_cores_by_pod(q.selector(namespace=namespace), window))
    cores = [float(r["value"][1]) for r in result]
    millicores = max(50, int(1000 * sum(cores) / max(1, len(cores))))
    log(f"[cpu] calibrated CPU request: {millicores}m (one agent's CPU at {1.2:g}x its capacity)")
    # Let the calibration load leave every window the report reads (CPU rate, SLO burn).
    await asyncio.sleep(max(30.0, 4 * duration_seconds(cfg.scrape_interval), duration_seconds(window)))
    return millicores


def _collect(prometheus: PrometheusServer, spec: Spec, lab: Spec, result: ScenarioResult, end: float
             ) -> dict[str, Any]:
    """Series for the timeline and totals for the budget, read from the lab's Prometheus."""
    from agentwatch.autoscaling.lab_metrics import collect

    return collect(prometheus, spec, lab, result.started, end)


def _config_json(cfg: LabConfig) -> dict[str, Any]:
    out = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    if cfg.scale_down_policy is not None:
        out["scale_down_policy"] = cfg.scale_down_policy.model_dump()
    return out


def _as_json(result: ScenarioResult) -> dict[str, Any]:
    record = result.record
    return {
        "scenario": result.scenario, "config": _config_json(result.config), "hpa": result.hpa,
        "started": result.started, "marks": result.marks, "cpu_request_m": result.cpu_request_m,
        "syncs": [dataclasses.asdict(s) for s in result.syncs], "ready": result.ready_series,
        "cold_starts": result.cold_starts, "prometheus": result.prometheus,
        "load": None if record is None else {
            "turns": [[t.start - result.started, t.latency, t.status, t.attempts, t.acknowledged_turn is not None]
                      for t in record.turns],
            "attempt_codes": dict(record.attempt_codes), "transport_errors": record.transport_errors,
            "conversations": record.conversations, "checked_conversations": record.checked_conversations,
            "lost_turns": record.lost_turns, "acknowledged": record.acknowledged, "failed_turns": record.failed_turns,
        },
    }
