"""The HPA controller's algorithm against the Kubernetes documentation's worked examples and the
cases of ``replica_calculator.go`` / ``horizontal.go`` (values in plain units; the controller works
in milli-units as the real one does)."""

from __future__ import annotations

import pytest

from agentwatch.autoscaling.hpa import (
    Behavior,
    HorizontalController,
    HPASpec,
    MetricSpec,
    MetricUnavailable,
    Pod,
    Policy,
    Rules,
    Sample,
    default_scale_down,
    default_scale_up,
)

QPS = MetricSpec("Pods", "qps", "AverageValue", 15_000)  # target 15 per pod


def hpa(*metrics: MetricSpec, low: int = 1, high: int = 100, behavior: Behavior | None = None) -> HPASpec:
    """An HPA with the API server's default behavior unless one is given."""
    return HPASpec("web", low, high, metrics or (QPS,), behavior or Behavior())


def pods(n: int, **kw: object) -> list[Pod]:
    return [Pod(f"p{i}", **kw) for i in range(n)]  # type: ignore[arg-type]


def samples(*values: float, prefix: str = "p") -> dict[str, Sample]:
    return {f"{prefix}{i}": Sample(v) for i, v in enumerate(values)}


def once(spec: HPASpec, current: int, values: dict[str, Sample] | MetricUnavailable,
         the_pods: list[Pod] | None = None, metric: str = "qps") -> int:
    return HorizontalController(spec).sync(0, current, the_pods or pods(current), {metric: values}).desired


@pytest.mark.parametrize(("value", "current", "expected"), [
    (0.2, 2, 4), (0.05, 4, 2), (0.105, 4, 4), (0.111, 4, 5), (0.09, 4, 4), (0.089, 4, 4),
], ids=["200m against 100m doubles", "50m against 100m halves", "a ratio of 1.05 is within the 0.1 tolerance",
        "a ratio of 1.11 is outside it", "0.9 is inside the tolerance", "0.89 would scale down but 4*0.89 rounds up"])
def test_documented_ratio_examples(value: float, current: int, expected: int) -> None:
    """HPA docs, algorithm details: desired = ceil(current * currentMetric / desiredMetric)."""
    spec = hpa(MetricSpec("Pods", "m", "AverageValue", 100), behavior=Behavior(
        default_scale_up(), Rules((Policy("Percent", 100, 15),), "Max", 0)))
    assert once(spec, current, {f"p{i}": Sample(value) for i in range(current)}, metric="m") == expected


def test_scale_up_on_a_custom_metric() -> None:
    """replica_calculator TestReplicaCalcScaleUpCM: 20, 10, 30 against 15 -> 4 pods."""
    assert once(hpa(), 3, samples(20, 10, 30)) == 4


def test_unready_pods_count_for_pods_metrics() -> None:
    """TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale: readiness only matters for CPU, so an
    unready pod's 30 counts: average 30 against 15 -> 6."""
    the_pods = [Pod("p0"), Pod("p1"), Pod("p2", ready=False, ready_transition_time=None)]
    assert once(hpa(), 3, samples(50, 10, 30), the_pods) == 6


def test_integer_milli_average() -> None:
    """TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown: average 31666 milli (integer
    division) against 15000 -> ceil(3 * 2.111) = 7."""
    assert once(hpa(), 3, samples(50, 15, 30)) == 7


def test_missing_pods_count_as_zero_on_a_scale_up() -> None:
    # 2 reporting pods at 30 (ratio 2); the third has no value: counted as 0 -> 20/15 -> ceil(3*1.333) = 4.
    assert once(hpa(), 3, samples(30, 30)) == 4


def test_missing_pods_count_as_the_target_on_a_scale_down() -> None:
    # Reporting pods at 5 (ratio 0.33); two missing pods count as 15: (5+5+15+15)/4 = 10 -> ceil(4*0.667) = 3.
    spec = hpa(behavior=Behavior(default_scale_up(), Rules((Policy("Percent", 100, 15),), "Max", 0)))
    assert once(spec, 4, samples(5, 5)) == 3


def test_missing_pods_that_flip_the_direction_mean_no_change() -> None:
    # Ratio 1.2 from the one reporting pod; with the missing pod at 0 the ratio drops below 1: hold.
    assert once(hpa(), 2, samples(18)) == 2


def test_pending_and_terminating_pods() -> None:
    """Pending pods are unready (0 on a scale-up); pods being deleted are ignored."""
    the_pods = [Pod("p0"), Pod("p1"), Pod("p2", phase="Pending"), Pod("p3", deleting=True)]
    # Average of p0, p1 = 30 (ratio 2) with an unready pod -> p2 counted as 0: 20/15 over 3 -> ceil(4.0) = 4.
    assert once(hpa(), 4, samples(30, 30, 0, 90), the_pods) == 4


def test_the_largest_proposal_wins() -> None:
    spec = hpa(QPS, MetricSpec("Pods", "queue", "AverageValue", 8_000))
    decision = HorizontalController(spec).sync(0, 2, pods(2), {"qps": samples(15, 15), "queue": samples(20, 20)})
    assert [p.replicas for p in decision.proposals] == [2, 5]
    assert decision.desired == 5


def test_an_invalid_metric_blocks_a_scale_down_but_not_a_scale_up() -> None:
    spec = hpa(QPS, MetricSpec("Pods", "queue", "AverageValue", 8_000),
               behavior=Behavior(default_scale_up(), Rules((Policy("Percent", 100, 15),), "Max", 0)))
    down = HorizontalController(spec).sync(0, 4, pods(4), {"qps": samples(1, 1, 1, 1),
                                                           "queue": MetricUnavailable("no series")})
    assert down.desired == 4 and "invalid" in down.reason
    up = HorizontalController(spec).sync(0, 2, pods(2), {"qps": samples(30, 30), "queue": MetricUnavailable("x")})
    assert up.desired == 4


def test_all_metrics_invalid_means_no_change() -> None:
    decision = HorizontalController(hpa()).sync(0, 3, pods(3), {"qps": MetricUnavailable("adapter down")})
    assert decision.desired == 3 and decision.proposed is None


@pytest.mark.parametrize(("current", "expected"), [(0, 0), (120, 100), (0 + 1, 2)],
                         ids=["zero replicas disable scaling", "above max is clamped at once",
                              "below min is raised at once"])
def test_replicas_outside_the_range(current: int, expected: int) -> None:
    spec = HPASpec("web", 2 if current == 1 else 1, 100, (QPS,), Behavior())
    assert HorizontalController(spec).sync(0, current, pods(current), {"qps": samples(*[1] * current)}).desired \
        == expected


def test_documented_scale_down_policies_80_to_10() -> None:
    """HPA docs, scaling policies: Pods 4 and Percent 10 per 60 s (Max: the bigger change). From 80
    pods toward 10: -8 (10 %), one period later -8 again (10 % of 72 rounds the change up), ...,
    and 4 at a time once 10 % is less than 4."""
    rules = Rules((Policy("Pods", 4, 60), Policy("Percent", 10, 60)), "Max", 0)
    spec = HPASpec("web", 1, 100, (QPS,), Behavior(default_scale_up(), rules))
    controller, current, seen = HorizontalController(spec), 80, []
    for step in range(0, 60 * 20, 15):  # a load that needs 10 pods: 150 qps in all
        desired = controller.sync(step, current, pods(current), {"qps": samples(*[150 / current] * current)}).desired
        if desired != current:
            seen.append((step, desired))
        current = desired
    assert seen[:3] == [(0, 72), (60, 64), (120, 57)]
    assert [r for _, r in seen if r <= 40] == [40, 36, 32, 28, 24, 20, 16, 12, 10]
    assert [s for s, _ in seen] == list(range(0, 60 * len(seen), 60)), "one change per 60 s period"


def test_scale_up_is_limited_by_the_policies() -> None:
    """Default scale-up: +4 pods or +100 % per 15 s, whichever adds more."""
    spec = HPASpec("web", 1, 100, (QPS,), Behavior())
    controller, current, path = HorizontalController(spec), 1, [1]
    for step in range(0, 75, 15):
        current = controller.sync(step, current, pods(current), {"qps": samples(*[15 * 50 / current] * current)}
                                  ).desired
        path.append(current)
    assert path == [1, 5, 10, 20, 40, 50]


def test_scale_up_pods_policy_counts_the_whole_period() -> None:
    """A Pods policy of 2 per 60 s allows 2 more pods per minute however often the controller syncs."""
    spec = HPASpec("web", 1, 100, (QPS,), Behavior(Rules((Policy("Pods", 2, 60),), "Max", 0), default_scale_down()))
    controller, current, path = HorizontalController(spec), 2, []
    for step in range(0, 135, 15):
        current = controller.sync(step, current, pods(current), {"qps": samples(*[150] * current)}).desired
        path.append(current)
    assert path == [4, 4, 4, 4, 6, 6, 6, 6, 8]


def test_select_policy_min_takes_the_smaller_change() -> None:
    up = Rules((Policy("Pods", 4, 15), Policy("Percent", 100, 15)), "Min", 0)
    spec = HPASpec("web", 1, 100, (QPS,), Behavior(up, default_scale_down()))
    assert HorizontalController(spec).sync(0, 10, pods(10), {"qps": samples(*[150] * 10)}).desired == 14


def test_select_policy_disabled_never_scales_that_way() -> None:
    down = Rules((Policy("Percent", 100, 15),), "Disabled", 0)
    spec = HPASpec("web", 1, 100, (QPS,), Behavior(default_scale_up(), down))
    assert HorizontalController(spec).sync(0, 10, pods(10), {"qps": samples(*[1] * 10)}).desired == 10


def test_scale_down_waits_out_the_stabilization_window() -> None:
    """Behavior docs: scaleDown.stabilizationWindowSeconds 300 -> the highest recommendation of the
    last 5 minutes applies; the first recommendation is the replica count at the first sync."""
    spec = HPASpec("web", 1, 100, (QPS,), Behavior(default_scale_up(), Rules((Policy("Percent", 100, 15),),
                                                                               "Max", 300)))
    controller, current, path = HorizontalController(spec), 6, []
    for step in range(0, 330, 15):
        current = controller.sync(step, current, pods(current), {"qps": samples(*[2.5] * current)}).desired
        path.append((step, current))
    assert all(replicas == 6 for step, replicas in path if step < 300)
    # At t=300 the first recommendation (6, at t=0) is no longer strictly inside the window.
    assert dict(path)[300] == 1


def test_scale_up_stabilization_takes_the_lowest_recent_recommendation() -> None:
    spec = HPASpec("web", 1, 100, (QPS,), Behavior(Rules((Policy("Percent", 900, 15),), "Max", 30),
                                                   default_scale_down()))
    controller = HorizontalController(spec)
    assert controller.sync(0, 2, pods(2), {"qps": samples(15, 15)}).desired == 2   # records 2
    assert controller.sync(15, 2, pods(2), {"qps": samples(60, 60)}).desired == 2  # 8 wanted; 2 in the window
    # At t=30 the t=0 recommendations are not strictly inside the 30 s window any more.
    assert controller.sync(30, 2, pods(2), {"qps": samples(60, 60)}).desired == 8


def test_without_behavior_the_legacy_limits_apply() -> None:
    """No behavior: scale up to at most max(2 * current, 4); scale down after 5 minutes."""
    spec = HPASpec("web", 1, 100, (QPS,), None)
    controller = HorizontalController(spec)
    assert controller.sync(0, 1, pods(1), {"qps": samples(150)}).desired == 4
    assert controller.sync(15, 4, pods(4), {"qps": samples(*[150] * 4)}).desired == 8


def test_cpu_utilization_ignores_a_pod_warming_up() -> None:
    """groupPods for CPU: inside the initialisation period an unready pod's CPU (the model load) is
    ignored; a ready pod whose sample does not cover a whole window since it became ready too."""
    cpu = MetricSpec("Resource", "cpu", "Utilization", 70)
    spec = HPASpec("web", 1, 10, (cpu,), Behavior())
    req = {"cpu": 1000}
    now = 100.0
    the_pods = [Pod("old", start_time=-1000, ready_transition_time=-990, requests=req),
                Pod("warming", ready=False, start_time=90, ready_transition_time=90, requests=req),
                Pod("fresh", start_time=60, ready_transition_time=95, requests=req)]
    values = {"old": Sample(0.35, now, 30), "warming": Sample(1.0, now, 30), "fresh": Sample(0.9, now, 30)}
    decision = HorizontalController(spec).sync(now, 3, the_pods, {"cpu": values})
    # Only "old" counts (50 % of its request, ratio 0.71): a scale-down would be proposed, but the two
    # ignored pods are not missing, so ceil(0.714 * 1 ready) = 1.
    assert decision.proposals[0].current == 35
    assert decision.proposals[0].replicas == 1


def test_cpu_missing_pods_count_as_their_request_on_a_scale_down() -> None:
    cpu = MetricSpec("Resource", "cpu", "Utilization", 50)
    spec = HPASpec("web", 1, 10, (cpu,), Behavior(default_scale_up(), Rules((Policy("Percent", 100, 15),),
                                                                              "Max", 0)))
    the_pods = [Pod(f"p{i}", start_time=-1000, ready_transition_time=-1000, requests={"cpu": 1000})
                for i in range(4)]
    # Two pods at 10 %: ratio 0.2; the two missing count as 100 %: (10+10+100+100)/4 = 55 % -> ratio 1.1 flips: hold.
    decision = HorizontalController(spec).sync(0, 4, the_pods, {"cpu": {"p0": Sample(0.1), "p1": Sample(0.1)}})
    assert decision.desired == 4


def test_external_average_value_divides_by_the_pods() -> None:
    """KEDA's AverageValue triggers: replicas = ceil(sum / target) unless within tolerance."""
    ext = MetricSpec("External", "s0-prometheus", "AverageValue", 8_000)
    spec = HPASpec("web", 1, 20, (ext,), Behavior())
    decision = HorizontalController(spec).sync(0, 2, pods(2), {ext.key: {"": Sample(40)}})
    assert decision.proposals[0].replicas == 5


def test_configured_tolerance_per_direction() -> None:
    up = Rules((Policy("Percent", 100, 15),), "Max", 0, tolerance=0.5)
    spec = HPASpec("web", 1, 100, (QPS,), Behavior(up, default_scale_down()))
    assert HorizontalController(spec).sync(0, 2, pods(2), {"qps": samples(21, 21)}).desired == 2  # 1.4 < 1.5
    assert HorizontalController(spec).sync(0, 2, pods(2), {"qps": samples(24, 24)}).desired == 4  # 1.6
