"""The HorizontalPodAutoscaler controller's decision, computed as kube-controller-manager computes it.

A Python reading of ``pkg/controller/podautoscaler`` (``horizontal.go``, ``replica_calculator.go``,
``metrics/utilization.go``) and the ``autoscaling/v2`` defaulting, written from the Go source
rather than from the documentation's summary. No library does this: the controller lives only
inside kube-controller-manager. Time is an explicit argument (seconds), never the wall clock, so
a replay (``agentwatch hpa-sim``) and a live loop (``agentwatch lab``) drive the same code.

One :class:`HorizontalController` holds the state the real controller keeps per HPA: the
unstabilised recommendations (``recordInitialRecommendation`` seeds them with the current scale)
and the scale-up / scale-down events the rate policies count. Each :meth:`~HorizontalController.sync`
is one ``reconcileAutoscaler``:

1. ``currentReplicas`` is the target's ``spec.replicas``; 0 disables scaling, outside
   ``[minReplicas, maxReplicas]`` it is clamped at once (no behavior applied);
2. every metric proposes a replica count (``computeReplicasForMetrics``); the largest wins; if all
   metrics fail, or some fail and the rest would scale down, nothing changes;
3. with ``behavior`` (always, once the API server defaulted it): the proposal is stabilised over
   past recommendations (scale-up window: the minimum, scale-down window: the maximum), then
   limited by the Pods/Percent policies of their periods (``selectPolicy`` Max, Min or Disabled)
   and by min/max; without ``behavior`` the legacy path (5-minute scale-down stabilisation,
   ``max(2 * current, 4)`` scale-up limit) applies.

Metric arithmetic follows the controller's: values are milli-units (the adapter sends
``int64(value * 1000)``), the per-pod average is an integer division, the tolerance test is
``1 - down <= ratio <= 1 + up`` (0.1 each unless ``behavior.*.tolerance`` sets it). For Pods
metrics every pod that reports counts, ready or not (``groupPods`` only looks at readiness for
CPU); pods without a value are *missing*: 0 on a scale-up, the target on a scale-down.

Usage::

    spec = parse_hpa(yaml.safe_load(text))
    controller = HorizontalController(spec)
    decision = controller.sync(now=15.0, current_replicas=2, pods=[Pod("a"), Pod("b")],
                               metrics={"agent_queue_length": {"a": Sample(12), "b": Sample(20)}})
    decision.desired          # 4
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

__all__ = [
    "DEFAULT_DOWNSCALE_STABILIZATION_S",
    "DEFAULT_TOLERANCE",
    "Behavior",
    "Decision",
    "HPASpec",
    "HorizontalController",
    "MetricProposal",
    "MetricSpec",
    "MetricUnavailable",
    "Pod",
    "Policy",
    "Rules",
    "Sample",
    "default_scale_down",
    "default_scale_up",
    "milli",
]

#: ``--horizontal-pod-autoscaler-tolerance`` default.
DEFAULT_TOLERANCE = 0.1
#: ``--horizontal-pod-autoscaler-downscale-stabilization`` default (seconds).
DEFAULT_DOWNSCALE_STABILIZATION_S = 300
#: ``--horizontal-pod-autoscaler-cpu-initialization-period`` default (seconds).
DEFAULT_CPU_INITIALIZATION_PERIOD_S = 300
#: ``--horizontal-pod-autoscaler-initial-readiness-delay`` default (seconds).
DEFAULT_INITIAL_READINESS_DELAY_S = 30

SelectPolicy = Literal["Max", "Min", "Disabled"]
MetricType = Literal["Pods", "Resource", "External"]
TargetType = Literal["AverageValue", "Utilization", "Value"]


def milli(value: float | Decimal) -> int:
    """A metric value as the controller sees it: prometheus-adapter's ``int64(value * 1000)``."""
    return int(Decimal(str(value)) * 1000)


@dataclass(frozen=True)
class Policy:
    """One ``HPAScalingPolicy``: change by ``value`` pods or percent within ``period_seconds``."""

    type: Literal["Pods", "Percent"]
    value: int
    period_seconds: int


@dataclass(frozen=True)
class Rules:
    """``HPAScalingRules`` after defaulting (``stabilization_window_seconds`` None: the flag's 300 s)."""

    policies: tuple[Policy, ...]
    select_policy: SelectPolicy = "Max"
    stabilization_window_seconds: int | None = 0
    tolerance: float | None = None

    @property
    def longest_period(self) -> int:
        return max((p.period_seconds for p in self.policies), default=0)


def default_scale_up() -> Rules:
    """The API server's default: +4 pods or +100 % per 15 s, whichever is more; no stabilisation."""
    return Rules((Policy("Pods", 4, 15), Policy("Percent", 100, 15)), "Max", 0)


def default_scale_down() -> Rules:
    """The API server's default: -100 % per 15 s; the window comes from the controller flag (300 s)."""
    return Rules((Policy("Percent", 100, 15),), "Max", None)


@dataclass(frozen=True)
class Behavior:
    scale_up: Rules = field(default_factory=default_scale_up)
    scale_down: Rules = field(default_factory=default_scale_down)


@dataclass(frozen=True)
class MetricSpec:
    """One entry of ``spec.metrics``: a Pods metric with an ``AverageValue`` target, a Resource
    metric (``Utilization`` percent or ``AverageValue``) or an External metric (``AverageValue``
    or ``Value``, as KEDA's triggers become)."""

    type: MetricType
    name: str
    target_type: TargetType
    #: AverageValue/Value: the target quantity in milli-units; Utilization: the percentage.
    target: int

    @property
    def key(self) -> str:
        """How :meth:`HorizontalController.sync` finds this metric's samples."""
        return self.name


@dataclass(frozen=True)
class HPASpec:
    """The parts of an ``autoscaling/v2`` HorizontalPodAutoscaler the decision depends on."""

    name: str
    min_replicas: int
    max_replicas: int
    metrics: tuple[MetricSpec, ...]
    behavior: Behavior | None = None
    namespace: str = "default"
    target_kind: str = "Deployment"
    target_name: str = ""


@dataclass(frozen=True)
class Pod:
    """What the controller's pod lister shows of one pod (times in the caller's seconds)."""

    name: str
    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Unknown"] = "Running"
    ready: bool = True
    start_time: float | None = 0.0
    #: When the Ready condition last changed; None: the pod has no Ready condition yet.
    ready_transition_time: float | None = 0.0
    deleting: bool = False
    #: Resource requests in milli-units, e.g. ``{"cpu": 1000}``.
    requests: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    """One pod's value of a metric (plain units; converted with :func:`milli`), with the time it
    was measured and the window it covers (Resource metrics use both)."""

    value: float
    timestamp: float = 0.0
    window: float = 0.0

    @property
    def milli(self) -> int:
        return milli(self.value)


class MetricUnavailable(Exception):
    """The metric could not be read (no series, an adapter or Prometheus error)."""


@dataclass(frozen=True)
class MetricProposal:
    """What one metric proposed: replicas, the current average (milli-units, or percent for
    Utilization), or the error that made it invalid."""

    metric: MetricSpec
    replicas: int | None
    current: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Decision:
    """One sync: the scale before (``current``), the decision (``desired``) and why."""

    time: float
    current: int
    desired: int
    #: Largest metric proposal, before stabilisation and limits (None when no metric was valid).
    proposed: int | None
    #: After stabilisation, before the rate and min/max limits.
    stabilized: int | None
    proposals: tuple[MetricProposal, ...]
    reason: str

    @property
    def rescaled(self) -> bool:
        return self.desired != self.current


@dataclass
class _Recommendation:
    replicas: int
    time: float


@dataclass
class _ScaleEvent:
    change: int
    time: float
    outdated: bool = False


@dataclass(frozen=True)
class _Tolerances:
    down: float
    up: float

    def within(self, ratio: float) -> bool:
        return (1.0 - self.down) <= ratio <= (1.0 + self.up)


class HorizontalController:
    """The controller's state for one HPA, and its sync. See the module docstring."""

    def __init__(self, spec: HPASpec, *, tolerance: float = DEFAULT_TOLERANCE,
                 downscale_stabilization_s: float = DEFAULT_DOWNSCALE_STABILIZATION_S,
                 cpu_initialization_period_s: float = DEFAULT_CPU_INITIALIZATION_PERIOD_S,
                 initial_readiness_delay_s: float = DEFAULT_INITIAL_READINESS_DELAY_S) -> None:
        self.spec = spec
        self.tolerance = tolerance
        self.downscale_stabilization_s = downscale_stabilization_s
        self.cpu_initialization_period_s = cpu_initialization_period_s
        self.initial_readiness_delay_s = initial_readiness_delay_s
        self.recommendations: list[_Recommendation] | None = None
        self.scale_up_events: list[_ScaleEvent] = []
        self.scale_down_events: list[_ScaleEvent] = []
        self._now = 0.0  # groupPods needs the time for the CPU initialisation period

    # --- reconcileAutoscaler ------------------------------------------------------------------

    def sync(self, now: float, current_replicas: int, pods: Sequence[Pod],
             metrics: Mapping[str, Mapping[str, Sample] | MetricUnavailable]) -> Decision:
        """One reconcile at time ``now``: ``current_replicas`` is the target's ``spec.replicas``,
        ``pods`` what its selector lists, ``metrics`` each metric's samples by pod name (or the
        error reading it). The caller applies ``desired``; the controller records its own events."""
        spec = self.spec
        self._now = now
        if self.recommendations is None:  # recordInitialRecommendation
            self.recommendations = [_Recommendation(current_replicas, now)]
        if current_replicas == 0 and spec.min_replicas != 0:
            return Decision(now, 0, 0, None, None, (), "ScalingDisabled: the target has zero replicas")
        if current_replicas > spec.max_replicas:
            return self._rescale(now, current_replicas, spec.max_replicas, None, None, (),
                                 "current replicas above maxReplicas")
        if current_replicas < spec.min_replicas:
            return self._rescale(now, current_replicas, spec.min_replicas, None, None, (),
                                 "current replicas below minReplicas")
        proposals = tuple(self._propose(m, current_replicas, pods, metrics.get(m.key)) for m in spec.metrics)
        valid = [p for p in proposals if p.replicas is not None]
        proposed = max((p.replicas for p in valid), default=None)  # type: ignore[type-var]
        invalid = len(proposals) - len(valid)
        if proposed is None or (invalid and proposed < current_replicas):
            first = next(p.error for p in proposals if p.error)
            return Decision(now, current_replicas, current_replicas, proposed, None, proposals,
                            f"FailedComputeMetricsReplicas: {invalid} of {len(proposals)} metrics invalid: {first}")
        if spec.behavior is None:
            stabilized = self._stabilize_legacy(now, proposed)
            desired, limit = self._limit_legacy(current_replicas, stabilized)
        else:
            stabilized = self._stabilize(now, current_replicas, proposed, spec.behavior)
            desired, limit = self._limit(now, current_replicas, stabilized, spec.behavior)
        reason = limit
        if desired > current_replicas:
            reason = f"{_winner(proposals)} above target; {limit}"
        elif desired < current_replicas:
            reason = f"all metrics below target; {limit}"
        return self._rescale(now, current_replicas, desired, proposed, stabilized, proposals, reason)

    def _rescale(self, now: float, current: int, desired: int, proposed: int | None, stabilized: int | None,
                 proposals: tuple[MetricProposal, ...], reason: str) -> Decision:
        if desired != current:
            self._store_scale_event(now, current, desired)
        return Decision(now, current, desired, proposed, stabilized, proposals, reason)

    # --- per-metric proposals (replica_calculator.go) ------------------------------------------

    def _tolerances(self) -> _Tolerances:
        behavior = self.spec.behavior
        up = behavior.scale_up.tolerance if behavior and behavior.scale_up.tolerance is not None else None
        down = behavior.scale_down.tolerance if behavior and behavior.scale_down.tolerance is not None else None
        return _Tolerances(self.tolerance if down is None else down, self.tolerance if up is None else up)

    def _propose(self, metric: MetricSpec, current: int, pods: Sequence[Pod],
                 samples: Mapping[str, Sample] | MetricUnavailable | None) -> MetricProposal:
        if samples is None:
            samples = MetricUnavailable(f"no samples given for metric {metric.key!r}")
        if isinstance(samples, MetricUnavailable):
            return MetricProposal(metric, None, error=f"unable to get metric {metric.key}: {samples}")
        try:
            if metric.type == "External":
                replicas, usage = self._external(metric, current, pods, samples)
            elif metric.type == "Resource" and metric.target_type == "Utilization":
                replicas, usage = self._resource_utilization(metric, current, pods, samples)
            else:  # Pods AverageValue, Resource AverageValue (GetRawResourceReplicas)
                resource = metric.name if metric.type == "Resource" else ""
                replicas, usage = self._plain(metric.target, current, pods, samples, resource)
        except MetricUnavailable as exc:
            return MetricProposal(metric, None, error=str(exc))
        return MetricProposal(metric, replicas, usage)

    def _group_pods(self, pods: Sequence[Pod], samples: Mapping[str, Sample], resource: str
                    ) -> tuple[int, set[str], set[str], set[str]]:
        """``groupPods``: (ready count, unready, missing, ignored) pod names."""
        ready, unready, missing, ignored = 0, set(), set(), set()
        for pod in pods:
            if pod.deleting or pod.phase == "Failed":
                ignored.add(pod.name)
                continue
            if pod.phase == "Pending":
                unready.add(pod.name)
                continue
            sample = samples.get(pod.name)
            if sample is None:
                missing.add(pod.name)
                continue
            if resource == "cpu":
                if pod.ready_transition_time is None or pod.start_time is None:
                    is_unready = True
                elif pod.start_time + self.cpu_initialization_period_s > self._now:
                    # Inside the initialisation period: ignore an unready pod, and a sample that
                    # does not cover a whole window since the Ready condition last changed.
                    is_unready = (not pod.ready) or sample.timestamp < pod.ready_transition_time + sample.window
                else:
                    # Later: ignore it only if it is unready and has never been ready.
                    is_unready = (not pod.ready) and (
                        pod.start_time + self.initial_readiness_delay_s > pod.ready_transition_time)
                if is_unready:
                    unready.add(pod.name)
                    continue
            ready += 1
        return ready, unready, missing, ignored

    def _plain(self, target: int, current: int, pods: Sequence[Pod], samples: Mapping[str, Sample],
               resource: str) -> tuple[int, int]:
        """``calcPlainMetricReplicas``: a per-pod average against an ``AverageValue`` target."""
        if not pods:
            raise MetricUnavailable("no pods returned by selector while calculating replica count")
        ready, unready, missing, ignored = self._group_pods(pods, samples, resource)
        values = {name: s.milli for name, s in samples.items() if name not in ignored and name not in unready}
        if not values:
            raise MetricUnavailable("did not receive metrics for targeted pods (pods might be unready)")
        ratio, usage = _usage_ratio(values, target)
        tolerances = self._tolerances()
        scale_up_with_unready = bool(unready) and ratio > 1.0
        if not scale_up_with_unready and not missing:
            if tolerances.within(ratio):
                return current, usage
            return math.ceil(ratio * ready), usage
        if missing:
            if ratio < 1.0:
                values.update({name: target for name in missing})
            elif ratio > 1.0:
                values.update({name: 0 for name in missing})
        if scale_up_with_unready:
            values.update({name: 0 for name in unready})
        new_ratio, _ = _usage_ratio(values, target)
        if tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
            return current, usage
        replicas = math.ceil(new_ratio * len(values))
        if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
            return current, usage
        return replicas, usage

    def _resource_utilization(self, metric: MetricSpec, current: int, pods: Sequence[Pod],
                              samples: Mapping[str, Sample]) -> tuple[int, int]:
        """``GetResourceReplicas``: average usage as a percentage of the pods' requests."""
        if not pods:
            raise MetricUnavailable("no pods returned by selector while calculating replica count")
        ready, unready, missing, ignored = self._group_pods(pods, samples, metric.name)
        values = {name: s.milli for name, s in samples.items() if name not in ignored and name not in unready}
        if not values:
            raise MetricUnavailable("did not receive metrics for targeted pods (pods might be unready)")
        requests = {}
        for pod in pods:
            if metric.name not in pod.requests:
                raise MetricUnavailable(f"missing request for {metric.name} in Pod {pod.name}")
            requests[pod.name] = pod.requests[metric.name]
        target = metric.target
        ratio, utilization = _utilization_ratio(values, requests, target)
        tolerances = self._tolerances()
        scale_up_with_unready = bool(unready) and ratio > 1.0
        if not scale_up_with_unready and not missing:
            if tolerances.within(ratio):
                return current, utilization
            return math.ceil(ratio * ready), utilization
        if missing:
            if ratio < 1.0:
                fallback = max(100, target)
                values.update({name: requests[name] * fallback // 100 for name in missing})
            elif ratio > 1.0:
                values.update({name: 0 for name in missing})
        if scale_up_with_unready:
            values.update({name: 0 for name in unready})
        new_ratio, _ = _utilization_ratio(values, requests, target)
        if tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
            return current, utilization
        replicas = math.ceil(new_ratio * len(values))
        if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
            return current, utilization
        return replicas, utilization

    def _external(self, metric: MetricSpec, current: int, pods: Sequence[Pod],
                  samples: Mapping[str, Sample]) -> tuple[int, int]:
        """External metrics (KEDA's triggers): the sum of the series against the target."""
        if not samples:
            raise MetricUnavailable(f"no series for external metric {metric.name}")
        usage = sum(s.milli for s in samples.values())
        tolerances = self._tolerances()
        if metric.target_type == "AverageValue":  # GetExternalPerPodMetricReplicas
            status_replicas = sum(1 for p in pods if not p.deleting)
            ratio = usage / (metric.target * status_replicas) if status_replicas else math.inf
            replicas = status_replicas if tolerances.within(ratio) else math.ceil(usage / metric.target)
            return replicas, math.ceil(usage / status_replicas) if status_replicas else usage
        ratio = usage / metric.target  # Value: getUsageRatioReplicaCount
        if current == 0:
            return math.ceil(ratio), usage
        if tolerances.within(ratio):
            return current, usage
        ready = sum(1 for p in pods if p.phase == "Running" and p.ready)
        return math.ceil(ratio * ready), usage

    # --- behavior: stabilisation and rate limits (horizontal.go) -------------------------------

    def _stabilize(self, now: float, current: int, desired: int, behavior: Behavior) -> int:
        """``stabilizeRecommendationWithBehaviors``: clamp ``current`` between the lowest
        recommendation of the scale-up window and the highest of the scale-down window."""
        assert self.recommendations is not None
        down_window = behavior.scale_down.stabilization_window_seconds
        if down_window is None:  # maybeInitScaleDownStabilizationWindow
            down_window = int(self.downscale_stabilization_s)
        up_cutoff = now - (behavior.scale_up.stabilization_window_seconds or 0)
        down_cutoff = now - down_window
        up_rec = down_rec = desired
        old_index = None
        for i, rec in enumerate(self.recommendations):
            if rec.time > up_cutoff:
                up_rec = min(rec.replicas, up_rec)
            if rec.time > down_cutoff:
                down_rec = max(rec.replicas, down_rec)
            if rec.time < up_cutoff and rec.time < down_cutoff:
                old_index = i
        recommendation = max(current, up_rec)
        recommendation = min(recommendation, down_rec)
        self._record(old_index, desired, now)
        return recommendation

    def _record(self, old_index: int | None, desired: int, now: float) -> None:
        assert self.recommendations is not None
        if old_index is not None:  # reuse one expired slot, as the controller does
            self.recommendations[old_index] = _Recommendation(desired, now)
        else:
            self.recommendations.append(_Recommendation(desired, now))

    def _limit(self, now: float, current: int, desired: int, behavior: Behavior) -> tuple[int, str]:
        """``convertDesiredReplicasWithBehaviorRate``: the policies' limits, then min/max."""
        spec = self.spec
        if desired > current:
            limit = _scale_up_limit(now, current, self.scale_up_events, self.scale_down_events, behavior.scale_up)
            limit = max(limit, current)
            if spec.max_replicas > limit:
                maximum, reason = limit, "ScaleUpLimit: the desired replica count is increasing faster than the " \
                                         "maximum scale rate"
            else:
                maximum, reason = spec.max_replicas, "TooManyReplicas: the desired replica count is more than " \
                                                     "the maximum replica count"
            if desired > maximum:
                return maximum, reason
        elif desired < current:
            limit = _scale_down_limit(now, current, self.scale_up_events, self.scale_down_events,
                                      behavior.scale_down)
            limit = min(limit, current)
            if spec.min_replicas < limit:
                minimum, reason = limit, "ScaleDownLimit: the desired replica count is decreasing faster than " \
                                         "the maximum scale rate"
            else:
                minimum, reason = spec.min_replicas, "TooFewReplicas: the desired replica count is less than " \
                                                     "the minimum replica count"
            if desired < minimum:
                return minimum, reason
        return desired, "DesiredWithinRange"

    def _stabilize_legacy(self, now: float, desired: int) -> int:
        """``stabilizeRecommendation`` (no ``behavior``): the highest recommendation of the last
        downscale-stabilisation window."""
        assert self.recommendations is not None
        cutoff = now - self.downscale_stabilization_s
        highest, old_index = desired, None
        for i, rec in enumerate(self.recommendations):
            if rec.time < cutoff:
                old_index = i
            elif rec.replicas > highest:
                highest = rec.replicas
        self._record(old_index, desired, now)
        return highest

    def _limit_legacy(self, current: int, desired: int) -> tuple[int, str]:
        """``convertDesiredReplicasWithRules``: at most ``max(2 * current, 4)``, within min/max."""
        spec = self.spec
        scale_up_limit = int(max(2.0 * current, 4.0))
        if spec.max_replicas > scale_up_limit:
            maximum, reason = scale_up_limit, "ScaleUpLimit"
        else:
            maximum, reason = spec.max_replicas, "TooManyReplicas"
        if desired < spec.min_replicas:
            return spec.min_replicas, "TooFewReplicas"
        if desired > maximum:
            return maximum, reason
        return desired, "DesiredWithinRange"

    def _store_scale_event(self, now: float, previous: int, new: int) -> None:
        """``storeScaleEvent``: remember the change for the policies' periods (reusing an outdated slot)."""
        behavior = self.spec.behavior
        if behavior is None:
            return
        if new > previous:
            events, rules, change = self.scale_up_events, behavior.scale_up, new - previous
        else:
            events, rules, change = self.scale_down_events, behavior.scale_down, previous - new
        cutoff = now - rules.longest_period
        for event in events:
            if event.time < cutoff:
                event.outdated = True
        outdated = [i for i, e in enumerate(events) if e.outdated]
        if outdated:
            events[outdated[-1]] = _ScaleEvent(change, now)
        else:
            events.append(_ScaleEvent(change, now))


def _winner(proposals: Sequence[MetricProposal]) -> str:
    best = max((p for p in proposals if p.replicas is not None), key=lambda p: p.replicas or 0)
    return f"{best.metric.type.lower()} metric {best.metric.name}"


def _usage_ratio(values: Mapping[str, int], target: int) -> tuple[float, int]:
    """``GetMetricUsageRatio``: integer average of milli-values over the target."""
    usage = sum(values.values()) // len(values)
    return usage / target, usage


def _utilization_ratio(values: Mapping[str, int], requests: Mapping[str, int], target: int) -> tuple[float, int]:
    """``GetResourceUtilizationRatio``: usage as an integer percentage of the requests."""
    total = sum(v for name, v in values.items() if name in requests)  # a value without a request is skipped
    requested = sum(requests[name] for name in values if name in requests)
    if requested == 0:
        raise MetricUnavailable("no metrics returned matched known pods")
    utilization = total * 100 // requested
    return utilization / target, utilization


def _change_in_period(now: float, period: int, events: Sequence[_ScaleEvent]) -> int:
    """``getReplicasChangePerPeriod``: pods added (or removed) by events newer than the period."""
    cutoff = now - period
    return sum(e.change for e in events if e.time > cutoff)


def _scale_up_limit(now: float, current: int, ups: Sequence[_ScaleEvent], downs: Sequence[_ScaleEvent],
                    rules: Rules) -> int:
    """``calculateScaleUpLimitWithScalingRules``."""
    if rules.select_policy == "Disabled":
        return current
    pick = min if rules.select_policy == "Min" else max
    result: int | None = None
    for policy in rules.policies:
        start = current - _change_in_period(now, policy.period_seconds, ups) \
            + _change_in_period(now, policy.period_seconds, downs)
        # Percent rounds up, or a small percentage of few pods would never add one.
        proposed = start + policy.value if policy.type == "Pods" else math.ceil(start * (1 + policy.value / 100))
        result = proposed if result is None else pick(result, proposed)
    return current if result is None else result


def _scale_down_limit(now: float, current: int, ups: Sequence[_ScaleEvent], downs: Sequence[_ScaleEvent],
                      rules: Rules) -> int:
    """``calculateScaleDownLimitWithBehaviors``."""
    if rules.select_policy == "Disabled":
        return current
    pick = max if rules.select_policy == "Min" else min
    result: int | None = None
    for policy in rules.policies:
        start = current - _change_in_period(now, policy.period_seconds, ups) \
            + _change_in_period(now, policy.period_seconds, downs)
        # Percent truncates toward zero, as Go's int32() conversion does.
        proposed = start - policy.value if policy.type == "Pods" else int(start * (1 - policy.value / 100))
        result = proposed if result is None else pick(result, proposed)
    return current if result is None else result
