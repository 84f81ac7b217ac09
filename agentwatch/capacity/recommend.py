"""Resource requests and limits from a measured profile, the way KRR (robusta-dev/krr) does it.

Percentiles over a window, never means:

- **CPU request** = the ``cpu_percentile`` (default 95th) of every per-pod CPU sample in the
  window (samples of all pods pooled), rounded up to 10 millicores. No CPU limit: a limit only
  throttles a pod that could have borrowed idle CPU.
- **Memory request = limit** = the peak RSS (working set in Kubernetes) of any pod in the window
  plus ``memory_headroom`` (default 15 %), rounded up to 1 MiB. Memory is not compressible: a pod
  over its request is the first evicted, one over its limit is killed, so both are the peak.
- **Replicas** for a peak rate = ``ceil(peak / (capacity * utilisation))`` with the per-pod
  capacity at the SLO measured by ``agentwatch capacity``.

Profiles come from a Prometheus (:func:`profile_from_prometheus`) or from a capacity run
(:func:`profile_from_capacity`: the CPU samples at the target load, the memory of the whole ramp).
:func:`recommend` is pure.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.table import Table

from agentwatch import promql as q
from agentwatch.load.slo import MESSAGES_ROUTE

__all__ = [
    "Policy",
    "Profile",
    "Recommendation",
    "cpu_quantity",
    "memory_quantity",
    "percentile",
    "profile_from_capacity",
    "profile_from_prometheus",
    "recommend",
]

MIB = 1024 * 1024


def percentile(values: Sequence[float], q_: float) -> float:
    """The ``q_``-th percentile (0..100) with linear interpolation between closest ranks, as
    ``numpy.percentile`` computes it by default (what KRR uses); written out to keep numpy out of
    the core install."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q_ / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def cpu_quantity(cores: float) -> str:
    """Cores → a Kubernetes CPU quantity rounded up to 10m (``0.742`` → ``"750m"``, ``2.0`` → ``"2"``)."""
    millicores = max(10, math.ceil(round(cores * 1000, 6) / 10) * 10)
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def memory_quantity(size: float) -> str:
    """Bytes → a Kubernetes memory quantity rounded up to 1 MiB (``Gi`` when exact)."""
    mib = max(1, math.ceil(size / MIB))
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


@dataclass(frozen=True)
class Profile:
    """Per-pod samples over a window (series key → values), plus the per-pod capacity if known."""

    source: str
    window: str
    cpu_cores: Mapping[str, Sequence[float]]
    memory_bytes: Mapping[str, Sequence[float]]
    message_rate: Mapping[str, Sequence[float]] = field(default_factory=dict)
    capacity: float | None = None  # msg/s one pod serves at the SLO
    capacity_source: str | None = None


@dataclass(frozen=True)
class Policy:
    cpu_percentile: float = 95.0
    memory_headroom: float = 0.15
    utilisation: float = 0.7

    def __post_init__(self) -> None:
        if not 0 < self.cpu_percentile <= 100:
            raise ValueError(f"cpu_percentile must be in (0, 100], got {self.cpu_percentile:g}")
        if self.memory_headroom < 0:
            raise ValueError(f"memory_headroom must be >= 0, got {self.memory_headroom:g}")
        if not 0 < self.utilisation <= 1:
            raise ValueError(f"utilisation must be in (0, 1], got {self.utilisation:g}")


@dataclass(frozen=True)
class Recommendation:
    source: str
    window: str
    policy: Policy
    pods: int
    cpu_samples: int
    cpu_cores: float  # the percentile
    cpu_request: str
    memory_peak_bytes: float
    memory_request: str
    memory_limit: str
    load_per_pod: dict[str, float | None]  # message rate per pod seen in the window: p50, p95, max
    capacity: float | None
    planned_rate: float | None  # msg/s per pod the replica count assumes
    peak_rate: float | None
    replicas: int | None
    capacity_source: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def resources(self) -> dict[str, dict[str, str]]:
        return {"requests": {"cpu": self.cpu_request, "memory": self.memory_request},
                "limits": {"memory": self.memory_limit}}

    def comment(self) -> list[str]:
        """The figures behind the numbers, one line each (for the spec fragment)."""
        p = self.policy
        lines = [f"CPU: p{p.cpu_percentile:g} of {self.cpu_samples} samples from {self.pods} pod(s) = "
                 f"{self.cpu_cores:.3f} cores -> {self.cpu_request}; no CPU limit",
                 f"memory: peak {self.memory_peak_bytes / MIB:.0f} MiB + {p.memory_headroom:.0%} -> "
                 f"{self.memory_request}, limit = request"]
        load = self.load_per_pod
        if load.get("p95") is not None:
            lines.append(f"load seen per pod: p50 {load['p50']:.1f}, p95 {load['p95']:.1f} msg/s")
        if self.capacity is not None and self.planned_rate is not None:
            lines.append(f"per pod: {self.capacity:.1f} msg/s at the SLO, planned at {p.utilisation:.0%} = "
                         f"{self.planned_rate:.1f} msg/s")
        if self.replicas is not None and self.peak_rate is not None:
            lines.append(f"replicas for a {self.peak_rate:g} msg/s peak: {self.replicas}")
        return lines

    def fragment(self) -> str:
        """A spec fragment to merge into ``agentwatch.yaml``'s ``autoscaling:`` section."""
        head = [f"# agentwatch recommend ({time.strftime('%Y-%m-%d')}) from {self.source}, {self.window}:"]
        head += [f"#   {line}" for line in self.comment()]
        res = self.resources()
        body = ["autoscaling:",
                f"  requests: {{cpu: \"{res['requests']['cpu']}\", memory: {res['requests']['memory']}}}",
                f"  limits: {{memory: {res['limits']['memory']}}}"]
        return "\n".join(head + body) + "\n"

    def table(self) -> Table:
        t = Table(title=f"resources recommended from {self.source} ({self.window})")
        t.add_column("what")
        t.add_column("value", justify="right")
        t.add_column("from")
        p = self.policy
        t.add_row("CPU request", self.cpu_request,
                  f"p{p.cpu_percentile:g} of {self.cpu_samples} samples = {self.cpu_cores:.3f} cores")
        t.add_row("CPU limit", "none", "a limit only throttles")
        t.add_row("memory request = limit", self.memory_request,
                  f"peak {self.memory_peak_bytes / MIB:.0f} MiB + {p.memory_headroom:.0%}")
        load = self.load_per_pod
        if load.get("p95") is not None:
            t.add_row("load per pod (msg/s)", f"{load['p50']:.1f} / {load['p95']:.1f} / {load['max']:.1f}",
                      "p50 / p95 / max in the window")
        if self.capacity is not None:
            t.add_row("capacity per pod at the SLO", f"{self.capacity:.1f} msg/s", self.capacity_source or "")
            t.add_row("planned per pod", f"{self.planned_rate:.1f} msg/s", f"{p.utilisation:.0%} of capacity")
        if self.replicas is not None:
            t.add_row(f"replicas for {self.peak_rate:g} msg/s", str(self.replicas),
                      f"ceil({self.peak_rate:g} / {self.planned_rate:.1f})")
        for note in self.notes:
            t.add_row("[yellow]note[/]", "", note)
        return t


def recommend(profile: Profile, policy: Policy | None = None, peak_rate: float | None = None) -> Recommendation:
    """Requests and limits (and replicas, when the capacity and a peak rate are known) from ``profile``."""
    policy = policy or Policy()
    cpu = [v for values in profile.cpu_cores.values() for v in values if v == v]  # NaN-free
    memory = [v for values in profile.memory_bytes.values() for v in values if v == v]
    if not cpu or not memory:
        raise ValueError(f"no CPU or memory samples in {profile.source} ({profile.window}): is the agent scraped?")
    cores = percentile(cpu, policy.cpu_percentile)
    peak = max(memory)
    memory_q = memory_quantity(peak * (1 + policy.memory_headroom))
    rates = [v for values in profile.message_rate.values() for v in values if v == v]
    load = ({"p50": statistics.median(rates), "p95": percentile(rates, 95), "max": max(rates)} if rates
            else {"p50": None, "p95": None, "max": None})
    notes = []
    planned = replicas = None
    if profile.capacity is not None:
        planned = profile.capacity * policy.utilisation
        if peak_rate is not None:
            replicas = max(1, math.ceil(peak_rate / planned))
        if load["p95"] is not None and load["p95"] < 0.5 * planned:
            notes.append(f"the window's load (p95 {load['p95']:.1f} msg/s per pod) is under half the planned "
                         f"{planned:.1f}: the CPU figure may be low")
    elif peak_rate is not None:
        notes.append("no per-pod capacity (give --capacity or --per-pod-rate): no replica count")
    pods = len(set(profile.cpu_cores) | set(profile.memory_bytes))
    return Recommendation(profile.source, profile.window, policy, pods, len(cpu), cores, cpu_quantity(cores), peak,
                          memory_q, memory_q, load, profile.capacity, planned, peak_rate, replicas,
                          profile.capacity_source, notes)


# --- profiles ------------------------------------------------------------------------------------


def _series_key(metric: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(metric.items())) or "all"


def _matrix(result: list[dict]) -> dict[str, list[float]]:
    return {_series_key(r["metric"]): [float(v) for _, v in r["values"]] for r in result}


def profile_from_prometheus(api: Any, since: float, *, step: float = 15.0, rate_window: str = "1m",
                            selector: str = "", namespace: str | None = None, end: float | None = None,
                            capacity: float | None = None, capacity_source: str | None = None) -> Profile:
    """CPU cores, memory and message rate per pod over ``[end - since, end]`` from a Prometheus
    (``api``: :class:`agentwatch.prometheus_api.PrometheusAPI`), with the dashboards' own queries
    (cAdvisor in Kubernetes, the process collector elsewhere)."""
    end = time.time() if end is None else end
    start = end - since
    namespace_sel = q.selector(namespace=namespace) if namespace else ""
    route = q.join_selectors(selector, q.selector(route=MESSAGES_ROUTE))
    cpu = _matrix(api.query_range(q.cpu_cores_per_pod(namespace_sel, selector, rate_window), start, end, step))
    memory = _matrix(api.query_range(q.memory_bytes_per_pod(namespace_sel, selector), start, end, step))
    rate = _matrix(api.query_range(q.message_rate_per_pod(route, rate_window), start, end, step))
    window = f"last {since:g}s at {step:g}s steps, rates over {rate_window}"
    return Profile(f"Prometheus {api.url}", window, cpu, memory, rate, capacity, capacity_source)


def _pairwise_rates(samples: Sequence[Mapping[str, float]], attr: str) -> list[float]:
    return [(b[attr] - a[attr]) / (b["t"] - a["t"]) for a, b in itertools.pairwise(samples)
            if b["t"] > a["t"]]


def profile_from_capacity(result: Mapping[str, Any], source: str, utilisation: float = 0.7) -> Profile:
    """A capacity run's profile: CPU from the steps at the target load (``utilisation`` times capacity,
    the steps within ±15 % of it, else the nearest), memory and load from the whole ramp."""
    capacity = result["capacity"]["throughput"] if result.get("capacity") else None
    if capacity is None:
        raise ValueError(f"{source}: no step held the SLO, so there is no capacity to plan with")
    target = utilisation * capacity
    steps = [s for s in result["steps"] if s["slo_ok"]]
    near = [s for s in steps if abs(s["throughput"] - target) <= 0.15 * target]
    if not near:
        near = [min(steps, key=lambda s: abs(s["throughput"] - target))]
    samples = result["samples"]
    cpu: list[float] = []
    for s in near:
        inside = [x for x in samples if s["measured_from"] <= x["t"] <= s["end"]]
        cpu += _pairwise_rates(inside, "cpu_seconds")
    steps_text = ", ".join(f"{s['users']} users/{s['throughput']:.1f} msg/s" for s in near)
    window = f"ramp steps at ~{target:.1f} msg/s ({steps_text})"
    return Profile(source, window, {"agent": cpu}, {"agent": [x["rss_bytes"] for x in samples]},
                   {"agent": _pairwise_rates(samples, "messages")}, capacity, source)
