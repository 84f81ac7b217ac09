"""The load package without a network: shapes, the recorder's windows, personas, Locust's arguments."""

from __future__ import annotations

import pytest

from agentwatch.load.ledger import Recorder, nearest_rank
from agentwatch.load.personas import PERSONAS, expected_outcome, persona_by_name, user_class_name
from agentwatch.load.runner import LoadError, LoadSpec
from agentwatch.load.shapes import SHAPES, Ramp, ShapeOptions, Spike, Steady, make_shape
from agentwatch.load.slo import MessageSLO
from agentwatch.spec import load_spec
from agentwatch.telemetry import catalogue as c


def test_every_shape_is_chosen_by_name_and_an_unknown_one_is_refused() -> None:
    assert set(SHAPES) == {"steady", "ramp", "spike", "soak"}
    for name in SHAPES:
        assert make_shape(name, ShapeOptions()).name == name
    with pytest.raises(ValueError, match="unknown load shape 'wave' \\(allowed: steady, ramp, spike, soak\\)"):
        make_shape("wave", ShapeOptions())


def test_steady_holds_its_users_until_the_run_time_is_over() -> None:
    shape = Steady(ShapeOptions(users=12, seconds=30))
    assert shape.tick(0, 0, Recorder()) == (12, 12 / 5)
    assert shape.tick(29.9, 0, Recorder()) == (12, 12 / 5)
    assert shape.tick(30, 0, Recorder()) is None


def test_spike_is_five_times_the_users_in_the_middle_half_by_default() -> None:
    shape = Spike(ShapeOptions(users=4, seconds=400))
    assert shape.window() == (100, 300)
    users = [shape.tick(t, 0, Recorder())[0] for t in (0, 99, 100, 299, 300, 399)]  # type: ignore[index]
    assert users == [4, 4, 20, 20, 4, 4]
    assert shape.tick(400, 0, Recorder()) is None
    custom = Spike(ShapeOptions(users=3, seconds=100, spike_factor=2, spike_start=10, spike_seconds=5))
    assert [custom.tick(t, 0, Recorder())[0] for t in (9, 10, 14, 15)] == [3, 6, 6, 3]  # type: ignore[index]


def _feed(recorder: Recorder, start: float, end: float, latency: float, ok: bool = True, per_second: int = 10) -> None:
    for i in range(round((end - start) * per_second)):
        recorder.message(start + i / per_second, latency, ok)


def test_ramp_steps_up_records_each_step_and_stops_after_the_slo_breaks_twice() -> None:
    options = ShapeOptions(users=10, step_users=5, step_seconds=10, warmup_seconds=2, slo_latency=1.0,
                           slo_objective=99, breaches=2, seconds=1000)
    shape, recorder = Ramp(options), Recorder()
    latencies = [0.1, 0.2, 1.5, 2.0]  # the third step breaks the SLO, and the fourth
    ticks = []
    for step, latency in enumerate(latencies):
        begin = 1000.0 + step * 10
        ticks.append(shape.tick(step * 10, begin, recorder))
        _feed(recorder, begin, begin + 10, latency)
        ticks.append(shape.tick(step * 10 + 5, begin + 5, recorder))
    final = shape.tick(40, 1040.0, recorder)
    assert [t[0] for t in ticks if t] == [10, 10, 15, 15, 20, 20, 25, 25]
    assert final is None
    assert [s["slo_ok"] for s in recorder.steps] == [True, True, False, False]
    first = recorder.steps[0]
    assert first["users"] == 10 and first["measured_from"] == 1002.0
    assert first["messages"] == 80 and first["throughput"] == pytest.approx(10.0)  # warm-up seconds left out
    assert recorder.steps[2]["p99"] == 1.5 and recorder.steps[2]["good_ratio"] == 0


def test_a_ramp_step_with_errors_beyond_the_budget_breaks_the_slo() -> None:
    shape, recorder = Ramp(ShapeOptions(users=1, step_seconds=10, warmup_seconds=0, slo_latency=1.0,
                                        slo_error_ratio=0.01, breaches=1)), Recorder()
    shape.tick(0, 0.0, recorder)
    _feed(recorder, 0, 10, 0.05)
    recorder.message(5.0, 0.01, ok=False)  # 2 failures in 102: over the 1 % budget
    recorder.message(5.0, 0.01, ok=False)
    assert shape.tick(10, 10.0, recorder) is None
    assert recorder.steps[0]["slo_ok"] is False and recorder.steps[0]["error_ratio"] == pytest.approx(2 / 102)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("users", 0, "users must be at least 1"),
    ("seconds", 0, "seconds must be greater than 0"),
    ("warmup_seconds", 30, "warmup_seconds must be in [0, step_seconds)"),
    ("spike_factor", 0.5, "spike_factor must be at least 1"),
    ("slo_objective", 100, "slo_objective must be strictly between 0 and 100"),
    ("breaches", 0, "breaches must be at least 1"),
])
def test_shape_options_refuse_impossible_values(field: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", "\\[").replace("(", "\\(").replace(")", "\\)")):
        ShapeOptions(**{field: value})  # type: ignore[arg-type]


def test_the_recorder_window_counts_good_messages_against_the_threshold() -> None:
    recorder = Recorder()
    for i, latency in enumerate([0.1, 0.2, 0.3, 0.9, 1.2]):
        recorder.message(100 + i, latency, ok=True)
    recorder.message(104.5, 0.05, ok=False)
    window = recorder.window(100, 105, threshold=1.0)
    assert (window.messages, window.ok, window.good) == (6, 5, 4)
    assert window.p50 == nearest_rank([0.1, 0.2, 0.3, 0.9, 1.2, 0.05], 50) == 0.2
    assert window.p99 == 1.2 and window.throughput == pytest.approx(1.0)


def test_the_recorder_keeps_a_bounded_number_of_conversations() -> None:
    recorder = Recorder(max_conversations=3)
    for i in range(5):
        recorder.conversation(f"c{i}", "refund")
    assert list(recorder.conversations) == ["c2", "c3", "c4"] and recorder.dropped_conversations == 2


def test_personas_cover_the_support_queue_and_every_escalation_reason() -> None:
    reasons = {p.escalates for p in PERSONAS if p.escalates}
    assert reasons == set(c.ESCALATION_REASONS) - {"max_turns"}  # max_turns needs 20 turns: not a persona
    assert {p.close for p in PERSONAS} == {"resolved", "abandoned", None}
    assert persona_by_name("order_status").weight == max(p.weight for p in PERSONAS)
    assert user_class_name(persona_by_name("wants_human")) == "WantsHuman"
    assert expected_outcome(True, "resolved") == "escalated" and expected_outcome(False, "abandoned") == "abandoned"
    assert expected_outcome(False, None) is None


def test_the_locust_arguments_name_the_shape_targets_and_slo() -> None:
    spec = LoadSpec(("http://a:1", "http://b:2"), "ramp", ShapeOptions(users=5, seconds=90, slo_latency=1.0),
                    (0.5, 1.5), probes=False, seed=7)
    args = spec.arguments("out/locust", "out/ledger.json")  # type: ignore[arg-type]
    pairs = dict(zip(args, [*args[1:], ""], strict=True))
    assert pairs["--targets"] == "http://a:1,http://b:2" and pairs["--shape"] == "ramp"
    assert pairs["-u"] == "5" and pairs["-t"] == "90s" and pairs["--slo-latency"] == "1"
    assert pairs["--think-time"] == "0.5,1.5" and pairs["--seed"] == "7" and "--csv-full-history" in args
    assert "BrokenClient" not in args and user_class_name(PERSONAS[0]) in args  # --no-probes: customers only
    with pytest.raises(LoadError, match="must start with http"):
        LoadSpec(("ftp://x",))
    with pytest.raises(LoadError, match="think time"):
        LoadSpec(("http://x",), think=(3, 1))


def test_the_message_slo_is_read_from_the_spec() -> None:
    slo = MessageSLO.from_spec(load_spec("agentwatch.yaml"))
    assert (slo.threshold, slo.objective, slo.error_ratio) == (1.0, 99.0, pytest.approx(0.001))
    assert (slo.latency_slo, slo.availability_slo) == ("messages-latency", "messages-availability")
