"""The installed wheel is the product: build it, install it into a fresh virtualenv without ``-e``
and with only the extras the README names, and run every command from an empty directory that
holds nothing but a copied spec (and the example files it imports)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.wheel, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "HF_HUB_OFFLINE": "1"})


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the virtualenv's bin folder, the wheel), agentwatch installed without extras."""
    dist, source = tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("source")
    # Build from the tracked files only (as a clean clone would): setuptools' in-tree build/ would
    # otherwise carry modules deleted since the last build into the wheel.
    tracked = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split("\0")
    for relative in filter(None, tracked):
        if (ROOT / relative).is_file():
            (source / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, source / relative)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(dist), str(source)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("agentwatch-*.whl")
    env = tmp_path_factory.mktemp("venv")
    venv.create(env, with_pip=True)
    pip = _run([str(env / "bin/pip"), "install", "-q", "--disable-pip-version-check", str(wheel)], env)
    assert pip.returncode == 0, pip.stderr
    return env / "bin", wheel


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty folder with only the spec and the two example SLO files."""
    folder = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "agentwatch.yaml", folder)
    shutil.copy(ROOT / "examples/sloth/support-agent.yml", folder / "sloth.yml")
    shutil.copy(ROOT / "examples/openslo/support-agent.yaml", folder / "openslo.yaml")
    return folder


def test_the_wheel_ships_no_tests_and_every_subpackage(installed: tuple[Path, Path]) -> None:
    import zipfile

    names = zipfile.ZipFile(installed[1]).namelist()
    for package in ("telemetry", "agent", "alerts", "dashboards", "k8s", "compose", "otel_collector", "local",
                    "commands", "spec", "load", "capacity", "traces"):
        assert f"agentwatch/{package}/__init__.py" in names, package
    assert "agentwatch/alerts/windows/30d.yaml" in names and "agentwatch/agent/intents.yaml" in names
    assert "agentwatch/load/locustfile.py" in names
    assert not [n for n in names if n.startswith("tests/") or "/generated/" in n], "tests or generated output shipped"


def test_base_install_commands_work_and_a_missing_extra_is_one_line(installed: tuple[Path, Path],
                                                                     project: Path) -> None:
    bin_dir, _ = installed
    aw = str(bin_dir / "agentwatch")
    assert _run([aw, "--help"], project).returncode == 0
    validate = _run([aw, "validate"], project)
    assert validate.returncode == 0 and "valid agentwatch/v1 spec" in validate.stdout, validate.stderr
    lib = _run([str(bin_dir / "python"), "-c", "import agentwatch.telemetry as t; print(t.Telemetry.__name__)"],
               project)
    assert lib.returncode == 0 and lib.stdout.strip() == "Telemetry", lib.stderr
    for kind, file in (("sloth", "sloth.yml"), ("openslo", "openslo.yaml")):
        out = project / f"imported-{kind}.yaml"
        refused = _run([aw, "import", kind, file, "-o", out.name], project)  # some fields do not convert
        assert refused.returncode == 1 and "--allow-partial" in refused.stderr and not out.exists()
        result = _run([aw, "import", kind, file, "-o", out.name, "--allow-partial"], project)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        assert _run([aw, "validate", out.name], project).returncode == 0
    missing = _run([aw, "generate", "dashboards"], project)
    assert missing.returncode == 1, missing.stdout
    assert "Traceback" not in missing.stderr and "agentwatch[dashboards]" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1, missing.stderr
    for command, extra in ((["load", "--url", "http://127.0.0.1:9"], "agentwatch[load]"),
                           (["capacity", "--quick"], "agentwatch[load]")):
        result = _run([aw, *command], project)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert extra in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    span = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "POST /x",
            "startTimeUnixNano": "1", "endTimeUnixNano": "1000001"}
    (project / "spans.jsonl").write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}) + "\n")
    traces = _run([aw, "traces", "spans.jsonl"], project)
    assert traces.returncode == 1 and "POST /x" in traces.stdout, traces.stdout + traces.stderr  # the tree prints
    assert "agentwatch[dashboards]" in traces.stderr and len(traces.stderr.strip().splitlines()) == 1
    rules = _run([aw, "generate", "rules"], project)
    assert rules.returncode == 0 and (project / "alerts/generated/kpi-rules.yaml").is_file(), rules.stderr


def test_with_the_dashboards_extra_every_family_generates_in_place(installed: tuple[Path, Path],
                                                                  project: Path) -> None:
    bin_dir, wheel = installed
    pip = _run([str(bin_dir / "pip"), "install", "-q", "--disable-pip-version-check", f"{wheel}[dashboards]"],
               project)
    assert pip.returncode == 0, pip.stderr
    aw = str(bin_dir / "agentwatch")
    generate = _run([aw, "generate"], project)
    assert generate.returncode == 0, generate.stderr
    for committed in ("alerts/generated/prometheusrule.yaml", "k8s/generated/base/deployment.yaml",
                      "dashboards/generated/provisioning/agentwatch-overview.json",
                      "compose/generated/alertmanager.yaml", "otel-collector/generated/config.yaml"):
        assert (project / committed).read_text() == (ROOT / committed).read_text(), committed
    assert _run([aw, "generate", "--check"], project).returncode == 0
    render = _run([aw, "dashboards", "render", "--help"], project)
    assert render.returncode == 0 and "--prometheus" in render.stdout
