"""The generator contract: every family renders purely from the spec, the committed artefacts are
what ``render_all`` returns, and ``agentwatch generate [FAMILY...] [--check]`` writes or checks them."""

from __future__ import annotations

import builtins
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentwatch.artefacts import header
from agentwatch.cli import app
from agentwatch.docs import README
from agentwatch.families import FAMILIES, render_all, select
from agentwatch.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
SPEC = load_spec(ROOT / "agentwatch.yaml")
BUILD = render_all(SPEC)
OWNER = {path: f.name for f in FAMILIES for path in render_all(SPEC, [f.name])}


@pytest.mark.parametrize("path", sorted(BUILD), ids=lambda p: f"{OWNER[p]}: {p} is committed and current")
def test_the_committed_artefact_is_what_the_generator_renders(path: str) -> None:
    committed = ROOT / path
    assert committed.is_file(), f"{path} is missing: run `agentwatch generate {OWNER[path]}`"
    assert committed.read_text() == BUILD[path], f"{path} is stale: run `agentwatch generate {OWNER[path]}`"


def test_no_file_under_a_generated_folder_is_left_over_from_an_old_generation() -> None:
    folders = {Path(p).parts[0] + "/generated" for p in BUILD}
    on_disk = {str(p.relative_to(ROOT)) for folder in folders for p in (ROOT / folder).rglob("*") if p.is_file()}
    assert on_disk <= set(BUILD), f"no family writes {sorted(on_disk - set(BUILD))}"


@pytest.mark.parametrize("family", [f.name for f in FAMILIES])
def test_each_family_writes_only_under_its_own_generated_folder(family: str) -> None:
    paths = render_all(SPEC, [family])
    assert paths, f"{family} renders nothing"
    assert all("/generated/" in p for p in paths), [p for p in paths if "/generated/" not in p]


def test_every_yaml_artefact_carries_the_one_header() -> None:
    for path, text in BUILD.items():
        if path.endswith((".yaml", ".yml")):
            assert text.startswith(header(SPEC.source)), path
            assert text.count("DO NOT EDIT") == 1, f"{path} is stamped twice"


def test_rendering_reads_no_file_environment_or_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # Import every generator first: importing may read package data; rendering may not.
    for family in FAMILIES:
        family.renderer()

    def forbidden(*args, **kwargs):
        raise AssertionError(f"a generator did I/O or read the clock: {args[:1]}")

    monkeypatch.setattr(builtins, "open", forbidden)
    monkeypatch.setattr(Path, "read_text", forbidden)
    monkeypatch.setattr(time, "time", forbidden)
    monkeypatch.setattr(socket, "socket", forbidden)
    monkeypatch.setattr(os, "environ", {})
    assert render_all(SPEC) == BUILD


def test_families_are_in_build_order_and_selected_by_name() -> None:
    assert [f.name for f in FAMILIES] == ["rules", "dashboards", "k8s", "canary", "compose", "collector"]
    assert [f.name for f in select(["collector", "rules"])] == ["rules", "collector"]
    assert select(["all"]) == select() == FAMILIES


def _copy_project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "agentwatch.yaml", tmp_path)
    for path in BUILD:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    return tmp_path / "agentwatch.yaml"


def test_check_passes_on_a_current_tree_and_names_every_stale_or_missing_file(tmp_path: Path) -> None:
    spec = _copy_project(tmp_path)
    ok = CliRunner().invoke(app, ["generate", "--check", "--spec", str(spec)])
    assert ok.exit_code == 0, ok.output
    edited, missing = "alerts/generated/kpi-rules.yaml", "k8s/generated/base/service.yaml"
    (tmp_path / edited).write_text("# hand edit\n")
    (tmp_path / missing).unlink()
    before = {p: (tmp_path / p).read_text() for p in BUILD if (tmp_path / p).is_file()}
    result = CliRunner().invoke(app, ["generate", "--check", "--spec", str(spec)])
    assert result.exit_code == 1
    stale = sorted(line.split("stale: ", 1)[1] for line in result.stderr.splitlines() if line.startswith("stale: "))
    assert stale == sorted(str(tmp_path / p) for p in (edited, missing))
    assert {p: (tmp_path / p).read_text() for p in before} == before, "--check writes nothing"
    narrowed = CliRunner().invoke(app, ["generate", "dashboards", "--check", "--spec", str(spec)])
    assert narrowed.exit_code == 0, "only the named families are checked"


def test_generate_writes_the_named_families_only(tmp_path: Path) -> None:
    spec = tmp_path / "agentwatch.yaml"
    shutil.copy(ROOT / "agentwatch.yaml", spec)
    result = CliRunner().invoke(app, ["generate", "k8s", "collector", "--spec", str(spec)])
    assert result.exit_code == 0, result.output
    written = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()} - {"agentwatch.yaml"}
    assert written == set(render_all(SPEC, ["k8s", "collector"]))
    again = CliRunner().invoke(app, ["generate", "k8s", "collector", "--spec", str(spec)])
    assert again.exit_code == 0 and again.stdout == "", "an unchanged file is not rewritten"


@pytest.mark.parametrize(("args", "message"), [
    (["generate", "grafana"], "unknown family grafana"),
    (["generate", "k8s", "--time-scale", "60"], "rules family only"),
], ids=["an unknown family lists the known ones", "time scaling is for rules only"])
def test_bad_usage_is_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, [*args, "--spec", str(ROOT / "agentwatch.yaml")])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_a_bad_spec_is_one_file_line_message_exit_1_and_nothing_written(tmp_path: Path) -> None:
    spec = tmp_path / "agentwatch.yaml"
    spec.write_text("version: agentwatch/v1\nservice: {name: x}\n"
                    "slos: [{name: a, objective: 150, sli: {availability: {route: /x}}}]\n")
    result = CliRunner().invoke(app, ["generate", "--spec", str(spec)])
    assert result.exit_code == 1
    assert f"{spec}:3: slos[0].objective" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agentwatch.yaml"], "nothing is written"


def test_the_readme_table_is_refreshed_only_where_the_markers_are(tmp_path: Path) -> None:
    spec = tmp_path / "agentwatch.yaml"
    shutil.copy(ROOT / "agentwatch.yaml", spec)
    (tmp_path / README).write_text("# my agent\n")
    assert CliRunner().invoke(app, ["generate", "--spec", str(spec)]).exit_code == 0
    assert (tmp_path / README).read_text() == "# my agent\n"
    stale = (ROOT / README).read_text().replace("| `agent_queue_length` |", "| `agent_queue_len` |")
    (tmp_path / README).write_text(stale)
    check = CliRunner().invoke(app, ["generate", "--check", "--spec", str(spec)])
    assert check.exit_code == 1 and f"stale: {tmp_path / README}" in check.stderr
    assert CliRunner().invoke(app, ["generate", "--spec", str(spec)]).exit_code == 0
    assert (tmp_path / README).read_text() == (ROOT / README).read_text()


def test_the_console_script_checks_this_repository() -> None:
    result = subprocess.run([str(Path(sys.executable).parent / "agentwatch"), "generate", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
