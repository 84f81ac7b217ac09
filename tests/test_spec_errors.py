"""Every spec error names file, line and field with the allowed values; the CLI shows no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentwatch.cli import app
from agentwatch.spec import SpecError, load_spec
from agentwatch.telemetry import catalogue as c

GOOD = """\
version: agentwatch/v1
service:
  name: support-agent
slos:
  - name: messages-availability
    objective: 99.9
    sli:
      availability:
        route: /v1/conversations/{conversation_id}/messages
  - name: messages-latency
    objective: 99
    sli:
      latency:
        route: /v1/conversations/{conversation_id}/messages
        threshold: 1.0
"""

# (id, text, line, field, words the message must contain)
CASES = [
    ("an objective of 0 is rejected", GOOD.replace("objective: 99.9", "objective: 0"),
     6, "slos[0].objective", ["0 < objective < 100"]),
    ("an objective of 100 is rejected", GOOD.replace("objective: 99.9", "objective: 100"),
     6, "slos[0].objective", ["0 < objective < 100"]),
    ("an unknown metric is rejected with the allowed ones",
     GOOD.replace("      availability:\n", "      availability:\n        metric: agent_requests_total\n"),
     9, "slos[0].sli.availability.metric", ["agent_requests_total", c.REQUEST_DURATION.name]),
    ("an unknown label is rejected with the allowed ones",
     GOOD.replace("        threshold: 1.0", "        threshold: 1.0\n        selector: {tenant: acme}"),
     16, "slos[1].sli.latency.selector", ["tenant", "allowed: route, method"]),
    ("a threshold that is not a bucket lists the buckets", GOOD.replace("threshold: 1.0", "threshold: 0.3"),
     15, "slos[1].sli.latency.threshold", ["0.3", "0.25, 0.5, 0.75, 1.0"]),
    ("a duplicate SLO name is rejected", GOOD.replace("name: messages-latency", "name: messages-availability"),
     10, "slos[1].name", ["duplicate", "slos[0]"]),
    ("an empty file is rejected", "", 1, "(root)", ["empty", "allowed"]),
    ("a YAML syntax error gives its line", GOOD.replace("    objective: 99\n", "    objective: [99\n"),
     12, "(root)", ["YAML syntax error"]),
    ("an unknown field lists the allowed fields", GOOD.replace("    objective: 99\n", "    objectiv: 99\n"),
     11, "slos[1].objectiv", ["unknown field", "allowed: name, description, objective"]),
    ("a window outside 30d, 28d, 7d is rejected",
     GOOD.replace("    objective: 99\n", "    objective: 99\n    window: 90d\n"),
     12, "slos[1].window", ["'90d'", "'30d'"]),
    ("a wrong version is rejected", GOOD.replace("agentwatch/v1", "agentwatch/v2"), 1, "version", ["agentwatch/v1"]),
    ("an unknown error class is rejected", GOOD + "kpis:\n  error_class_spike: {classes: [oops]}\n",
     17, "kpis.error_class_spike.classes", ["oops", "injected_fault"]),
]


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize(("text", "line", "field", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_spec_error_names_file_line_and_field(tmp_path: Path, runner: CliRunner, text: str, line: int,
                                              field: str, words: list[str]) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    lines = str(info.value).splitlines()
    matching = [entry for entry in lines if entry.startswith(f"{spec}:{line}: {field}: ")]
    assert matching, lines
    for word in words:
        assert word in matching[0]
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{spec}:{line}: {field}:" in result.output
    assert "Traceback" not in result.output


def test_the_reference_spec_is_valid(runner: CliRunner) -> None:
    root = Path(__file__).parent.parent
    spec = load_spec(root / "agentwatch.yaml")
    assert [s.sli.kind for s in spec.slos] == ["availability", "latency"]
    assert [s.objective for s in spec.slos] == [99.9, 99.0]
    assert spec.slos[1].sli.latency is not None and spec.slos[1].sli.latency.le == "1.0"
    assert str(spec.slos[0].error_budget) == "0.001"
    result = runner.invoke(app, ["validate", str(root / "agentwatch.yaml")])
    assert result.exit_code == 0, result.output


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "cannot read the spec" in result.output
