"""The committed autoscaling-lab report re-renders from the run's own JSON (no services)."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from agentwatch.autoscaling.lab_report import load_results, scenario_figures
from agentwatch.cli import app

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "bench" / "results" / "autoscaling-lab"


def test_the_committed_report_re_renders_from_its_json(tmp_path: Path) -> None:
    for item in LAB.iterdir():
        shutil.copy(item, tmp_path / item.name)
    result = CliRunner().invoke(app, ["lab", "--report-only", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    committed = (LAB / "autoscaling-lab.md").read_text().split("\n", 3)[3]
    assert (tmp_path / "autoscaling-lab.md").read_text().split("\n", 3)[3] == committed


def test_no_scenario_lost_a_turn_and_the_prewarm_burned_least() -> None:
    figures = {r.scenario: scenario_figures(r) for r in load_results(LAB, ["agent", "cpu", "prewarm"])}
    assert all(f["turns_lost"] == 0 for f in figures.values())
    burn = {name: sum(b["bad"] for b in f["budgets"].values()) for name, f in figures.items()}
    assert burn["prewarm"] == min(burn.values())


def test_the_plot_reads_the_queue_target_of_the_specs_own_hpa() -> None:
    """The spec's queue target is a fraction (0.62), written as a Kubernetes quantity ('620m')."""
    from agentwatch.autoscaling.lab import LabConfig, scenario_hpa
    from agentwatch.autoscaling.lab_plot import queue_target
    from agentwatch.spec import load_spec

    spec = load_spec(ROOT / "agentwatch.yaml")
    manifest, _ = scenario_hpa(spec, LabConfig.quick(), "agent")
    assert queue_target(manifest) == spec.autoscaling.queue_length_target
