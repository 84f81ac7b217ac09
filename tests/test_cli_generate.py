"""`agentwatch generate all`: a bad spec is one FILE:LINE message, never a traceback."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from agentwatch.cli import _register_commands, app

_register_commands()


def test_generate_all_reports_a_bad_spec_as_file_line_field(tmp_path: Path) -> None:
    spec = tmp_path / "agentwatch.yaml"
    spec.write_text("version: agentwatch/v1\nservice: {name: x}\n"
                    "slos: [{name: a, objective: 150, sli: {availability: {route: /x}}}]\n")
    result = CliRunner().invoke(app, ["generate", "all", "--spec", str(spec)])
    assert result.exit_code == 1
    assert f"{spec}:3: slos[0].objective" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "alerts").exists(), "nothing is written from an invalid spec"


def test_generate_all_leaves_a_readme_without_markers_alone(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    spec = tmp_path / "agentwatch.yaml"
    spec.write_text((root / "agentwatch.yaml").read_text())
    (tmp_path / "README.md").write_text("# my agent\n")
    result = CliRunner().invoke(app, ["generate", "all", "--spec", str(spec)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "README.md").read_text() == "# my agent\n"
    assert (tmp_path / "alerts" / "generated" / "kpi-rules.yaml").is_file()
