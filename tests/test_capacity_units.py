"""Capacity analysis, the recommend arithmetic and the OTLP JSON format, on synthetic data; and the spec's
autoscaling figures re-derived from the committed capacity run."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agentwatch.capacity.analysis import (
    StepStats,
    autoscaling_targets,
    capacity_step,
    interpolate,
    isotonic,
    knee_step,
)
from agentwatch.capacity.fragment import steps_from_result
from agentwatch.capacity.recommend import (
    Policy,
    Profile,
    cpu_quantity,
    memory_quantity,
    percentile,
    profile_from_capacity,
    recommend,
)
from agentwatch.spec import load_spec
from agentwatch.traces.otlp_json import STATUS_ERROR, parse_line, request_to_json
from agentwatch.traces.waterfall import failed_trace, label, layout, slowest_trace, terminal_tree

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


# --- recommend: percentiles over a window, not means ----------------------------------------------


def test_cpu_is_the_95th_percentile_of_every_pod_s_samples_pooled_not_the_mean() -> None:
    # Pod a idles at 0.2 cores with a burst; pod b is busier. 20 samples pooled.
    cpu = {"a": [0.2] * 9 + [0.9], "b": [0.5, 0.5, 0.6, 0.6, 0.6, 0.7, 0.7, 0.8, 0.8, 1.0]}
    profile = Profile("synthetic", "10 samples per pod", cpu, {"a": [400 * MIB, 512 * MIB], "b": [600 * MIB]},
                      {"a": [10.0, 20.0], "b": [30.0, 40.0]}, capacity=50.0, capacity_source="synthetic")
    rec = recommend(profile, Policy(cpu_percentile=95, memory_headroom=0.15, utilisation=0.7), peak_rate=300)
    pooled = sorted(cpu["a"] + cpu["b"])  # ... 0.8, 0.8, 0.9, 1.0: rank (20-1)*0.95 = 18.05
    assert rec.cpu_cores == pytest.approx(pooled[18] + 0.05 * (pooled[19] - pooled[18]))  # 0.9 + 0.05*0.1
    assert rec.cpu_cores == pytest.approx(0.905)
    assert rec.cpu_request == "910m"  # rounded up to 10 millicores
    mean = sum(pooled) / len(pooled)
    assert cpu_quantity(mean) != rec.cpu_request  # the mean (0.54) would starve the busy pod
    assert rec.memory_peak_bytes == 600 * MIB
    assert rec.memory_request == rec.memory_limit == f"{math.ceil(600 * 1.15)}Mi" == "690Mi"
    assert rec.planned_rate == pytest.approx(35.0) and rec.replicas == math.ceil(300 / 35) == 9
    assert rec.load_per_pod == {"p50": 25.0, "p95": pytest.approx(38.5), "max": 40.0}
    assert rec.pods == 2 and rec.cpu_samples == 20
    fragment = rec.fragment()
    assert 'requests: {cpu: "910m", memory: 690Mi}' in fragment and "limits: {memory: 690Mi}" in fragment
    assert "# agentwatch recommend" in fragment and "p95 of 20 samples" in fragment


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([1.0], 95, 1.0),
    ([1.0, 2.0], 50, 1.5),
    ([0.0, 10.0, 20.0, 30.0, 40.0], 90, 36.0),
    ([5.0, 1.0, 3.0], 100, 5.0),
])
def test_percentile_interpolates_linearly_like_numpy(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_quantities_round_up() -> None:
    assert [cpu_quantity(v) for v in (0.0001, 0.742, 0.7, 1.0, 1.234)] == ["10m", "750m", "700m", "1", "1240m"]
    assert [memory_quantity(v) for v in (1, 512 * MIB + 1, 1024 * MIB)] == ["1Mi", "513Mi", "1Gi"]


def test_a_profile_without_samples_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no CPU or memory samples"):
        recommend(Profile("empty", "1h", {}, {}))


def test_without_a_per_pod_capacity_there_is_no_replica_count_and_a_note_says_why() -> None:
    rec = recommend(Profile("p", "w", {"a": [0.5]}, {"a": [MIB]}), peak_rate=100)
    assert rec.replicas is None and any("no per-pod capacity" in n for n in rec.notes)


# --- capacity analysis --------------------------------------------------------------------------


def _step(i: int, throughput: float, p99: float, ok: bool, queue: float, inference: float) -> StepStats:
    return StepStats(step=i, users=10 * (i + 1), start=i * 10.0, end=i * 10.0 + 10, measured_from=i * 10.0 + 2,
                     messages=100, throughput=throughput, error_ratio=0.0 if ok else 0.05, good_ratio=1.0,
                     p50=p99 / 3, p95=p99 / 1.5, p99=p99, slo_ok=ok, queue_length=queue, queue_length_max=queue * 2,
                     inference_time=inference, batch_size=2.0, cpu_cores=throughput / 100, rss_bytes=500 * MIB,
                     server_throughput=throughput, cpu_wait=0.0)


STEPS = [_step(0, 10, 0.05, True, 0.0, 0.010), _step(1, 20, 0.06, True, 0.5, 0.014),
         _step(2, 30, 0.08, True, 0.2, 0.016),  # a noisy dip: the fit pools it with its neighbour
         _step(3, 40, 0.30, True, 2.0, 0.030), _step(4, 38, 2.5, False, 20.0, 0.200),
         _step(5, 36, 4.0, False, 30.0, 0.250)]


def test_isotonic_regression_makes_a_curve_non_decreasing_in_least_squares() -> None:
    assert isotonic([1, 3, 2, 4]) == [1, 2.5, 2.5, 4]
    assert isotonic([3, 2, 1]) == [2, 2, 2]
    assert isotonic([]) == []


def test_capacity_is_the_best_throughput_that_held_the_slo() -> None:
    best = capacity_step(STEPS)
    assert best is not None and best.throughput == 40 and best.slo_ok
    assert capacity_step([s for s in STEPS if not s.slo_ok]) is None


def test_the_knee_is_where_p99_turns_up() -> None:
    knee = knee_step(STEPS)
    assert knee is not None and knee.users == 40  # the last step before the latency explodes


def test_autoscaling_targets_follow_the_documented_rule() -> None:
    targets = autoscaling_targets(STEPS, utilisation=0.7)
    assert targets is not None and targets.capacity == 40 and targets.rate == pytest.approx(28.0)
    # Queue fit: 0, 0.35, 0.35, 2.0 (0.5 and 0.2 pooled); at 28 msg/s: between 20 (0.35) and 30 (0.35).
    assert interpolate(STEPS, 28.0, "queue_length") == pytest.approx(0.35)
    assert targets.queue_length_target == 0.35
    # Forward pass at 28 msg/s: 0.014 + (0.016 - 0.014) * 0.8 = 0.0156 -> 2 significant digits.
    assert targets.inference_time_measured == pytest.approx(0.0156)
    assert targets.inference_time_target == 0.016
    assert "70% of its capacity" in targets.rule
    low = autoscaling_targets(STEPS, utilisation=0.2)  # 8 msg/s: below the first step, no extrapolation
    assert low is not None and low.queue_length_target == 0.1 and low.inference_time_target == 0.01
    with pytest.raises(ValueError, match="utilisation"):
        autoscaling_targets(STEPS, utilisation=1.5)


# --- the committed spec: derived, not chosen -------------------------------------------------------

CAPACITY = ROOT / "bench" / "results" / "capacity.json"


def test_the_spec_s_autoscaling_targets_and_resources_are_the_committed_capacity_run_s() -> None:
    autoscaling = load_spec(ROOT / "agentwatch.yaml").autoscaling
    assert autoscaling is not None and autoscaling.derived_from == "bench/results/capacity.json"
    result = json.loads(CAPACITY.read_text())
    targets = autoscaling_targets(steps_from_result(result), result["autoscaling"]["utilisation"])
    assert targets is not None
    assert autoscaling.queue_length_target == targets.queue_length_target
    assert autoscaling.inference_time_target == targets.inference_time_target
    rec = recommend(profile_from_capacity(result, "capacity run", targets.utilisation))
    assert autoscaling.requests == {"cpu": rec.cpu_request, "memory": rec.memory_request}
    assert autoscaling.limits == {"memory": rec.memory_limit}
    assert result["settings"]["torch_threads"] == autoscaling.torch_threads
    assert not result["quick"] and result["load"]["turns_lost"] == 0


def test_recommend_from_the_committed_capacity_run_prints_the_spec_s_resources(tmp_path: Path) -> None:
    out = tmp_path / "fragment.yaml"
    result = subprocess.run([sys.executable, "-m", "agentwatch", "recommend", "--capacity", str(CAPACITY),
                             "--peak-rate", "200", "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    autoscaling = load_spec(ROOT / "agentwatch.yaml").autoscaling
    assert autoscaling is not None
    text = out.read_text()
    assert f'cpu: "{autoscaling.requests["cpu"]}"' in text and f"memory: {autoscaling.limits['memory']}" in text
    assert "replicas for a 200 msg/s peak" in text


@pytest.mark.parametrize(("args", "message"), [
    ([], "give --prometheus URL, --capacity FILE or both"),
    (["--capacity", "pyproject.toml"], "not a capacity run's JSON"),
    (["--capacity", "missing.json"], "cannot read"),
    (["--prometheus", "http://127.0.0.1:9", "--since", "1 hour"], "is not a duration"),
    (["--prometheus", "http://127.0.0.1:9", "--since", "1m"], "cannot reach Prometheus"),
], ids=["no source", "not a capacity file", "a missing file", "a bad window", "no Prometheus"])
def test_recommend_refuses_bad_input_with_one_clear_line(args: list[str], message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "agentwatch", "recommend", *args], capture_output=True,
                            text=True, timeout=60, cwd=ROOT)
    assert result.returncode in (1, 2)
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.stderr


# --- OTLP JSON and the waterfall -------------------------------------------------------------------


def _request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    kv = resource.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "agent"
    scope = resource.scope_spans.add()
    trace_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    for name, span_id, parent, start, end, status in (
            ("POST /messages", "b7ad6b7169203331", "", 0, 900, 2),
            ("state.fetch", "00f067aa0ba902b7", "b7ad6b7169203331", 10, 20, 0),
            ("inference", "1111111111111111", "b7ad6b7169203331", 30, 800, 0)):
        span = scope.spans.add()
        span.trace_id, span.span_id, span.name = trace_id, bytes.fromhex(span_id), name
        span.parent_span_id = bytes.fromhex(parent)
        span.start_time_unix_nano, span.end_time_unix_nano, span.status.code = start * 10**6, end * 10**6, status
        span.kind = 2 if not parent else 1
    batch = scope.spans[2].attributes.add()
    batch.key, batch.value.int_value = "agentwatch.inference.batch_size", 8
    return request


def test_otlp_json_has_hex_ids_integer_enums_and_reads_back() -> None:
    data = request_to_json(_request())
    span = data["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == "0af7651916cd43dd8448eb211c80319c" and span["spanId"] == "b7ad6b7169203331"
    assert span["kind"] == 2 and span["status"] == {"code": 2} and span["endTimeUnixNano"] == "900000000"
    spans = list(parse_line(json.loads(json.dumps(data))))
    assert [s.name for s in spans] == ["POST /messages", "state.fetch", "inference"]
    assert spans[2].attributes == {"agentwatch.inference.batch_size": 8} and spans[2].parent_span_id == spans[0].span_id
    assert spans[0].resource == {"service.name": "agent"} and spans[0].status == STATUS_ERROR


def test_the_waterfall_lays_out_a_trace_depth_first_and_labels_batch_size() -> None:
    spans = list(parse_line(request_to_json(_request())))
    trace_id = spans[0].trace_id
    assert slowest_trace(spans) == trace_id and failed_trace(spans) == trace_id
    rows = layout(spans, trace_id)
    assert [(s.name, depth) for s, depth in rows] == [("POST /messages", 0), ("state.fetch", 1), ("inference", 1)]
    assert label(rows[2][0]) == "inference  [batch_size=8]"
    from rich.console import Console

    console = Console(record=True, width=140)
    console.print(terminal_tree(rows))
    text = console.export_text()
    assert "900.0 ms" in text and "770.0 ms" in text and "batch_size=8" in text
    with pytest.raises(KeyError):
        layout(spans, "f" * 32)
