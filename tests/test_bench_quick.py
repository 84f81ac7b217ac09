"""Every benchmark still runs: each one's quick mode, made smaller still, once, against real services.

These are not benchmarks (the numbers of a 1-second run mean nothing); they prove the harness,
the servers, the load tools and the result files work, and that each result carries its rows,
its targets and the ratio against its same-run baseline.
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pytest

from agentwatch.bench import report
from agentwatch.bench.run import BENCHMARKS

pytestmark = [pytest.mark.live, pytest.mark.timeout(300)]

CASES = [
    pytest.param("instrumentation", ["--rounds", "1", "--seconds", "1"], id="instrumentation overhead runs wrk "
                 "against three uvicorn apps"),
    pytest.param("state_cost", ["--rounds", "1", "--samples", "20", "--lengths", "10,100",
                                "--turns-per-writer", "10"], id="state cost compares the store with the JSON blob"),
    pytest.param("serving", ["--rounds", "1", "--seconds", "1", "--warmup", "1", "--no-unbatched"],
                 id="serving efficiency compares the agent with the bare model"),
    pytest.param("telemetry_overhead", ["--rounds", "1", "--seconds", "1", "--warmup", "1"],
                 id="telemetry overhead compares the agent with telemetry on and off"),
    pytest.param("cardinality", ["--steps", "2,6"], id="cardinality scrapes metrics after distinct ids and paths"),
    pytest.param("cold_start", ["--rounds", "1", "--no-imports-probe"],
                 id="cold start splits the agent's start into phases"),
    pytest.param("memory", ["--checkpoints", "4,8"], id="memory reads the agent's RSS at checkpoints"),
    pytest.param("overload", ["--rounds", "1", "--seconds", "3"],
                 id="overload offers ten times the sustainable rate to one agent"),
    pytest.param("rule_cost", ["--slos", "2", "--days", "0.5", "--evaluations", "1", "--interval", "3"],
                 id="rule cost evaluates agentwatch's and Sloth's rules on a backfilled Prometheus"),
]


def test_every_benchmark_has_a_quick_case() -> None:
    assert sorted(BENCHMARKS) == sorted(case.values[0] for case in CASES)


@pytest.mark.model
@pytest.mark.parametrize(("name", "options"), CASES)
def test_benchmark_quick_mode_writes_a_result(name: str, options: list[str], tmp_path: Path) -> None:
    if shutil.which("wrk") is None and name in ("instrumentation", "serving", "telemetry_overhead"):
        pytest.fail("wrk is not installed: run `make deps`")
    importlib.import_module(BENCHMARKS[name]).main(["--quick", "--out-dir", str(tmp_path), *options])
    result = json.loads((tmp_path / f"{name}.json").read_text())
    assert result["name"] == name and result["quick"] is True
    assert result["command"].startswith(f"python -m agentwatch.bench.{name} --quick")
    assert result["rows"], "a result without measured rows"
    assert result["targets"], "every benchmark states at least one target"
    for target in result["targets"]:
        assert target["measured"] > 0 and isinstance(target["met"], bool)
    assert result["host"]["pinning"]
    rendered = report.render_result(result)
    assert result["title"] in rendered and "| what | measured |" in rendered


def test_readme_table_goes_between_the_markers_only(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{report.BEGIN}\nold table\n{report.END}\nafter\n")
    results = [{"name": "memory", "targets": [{"what": "RSS growth", "measured": 1.01, "unit": "ratio",
                                               "bar": "<= 1.05", "met": True, "note": ""}]}]
    report.update_readme(results, readme)
    text = readme.read_text()
    assert text.startswith("# x\n\nbefore\n") and text.endswith(f"{report.END}\nafter\n")
    assert "old table" not in text and "| memory | RSS growth | 1.01 |" in text


def test_readme_without_markers_gets_a_performance_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# x\n")
    report.update_readme([], readme)
    text = readme.read_text()
    assert text.startswith("# x\n\n## Performance\n") and report.BEGIN in text and report.END in text
