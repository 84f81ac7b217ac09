"""Sloth and OpenSLO imports: example → agentwatch spec → rules promtool accepts, same SLI as native."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agentwatch.alerts import render, slo_rules_path
from agentwatch.cli import app
from agentwatch.spec import SpecError, load_spec, parse_spec
from agentwatch.spec.imports import dump_spec
from agentwatch.spec.loader import load_yaml
from agentwatch.spec.openslo import import_openslo
from agentwatch.spec.sloth import import_sloth

ROOT = Path(__file__).parent.parent
NATIVE = load_spec(ROOT / "agentwatch.yaml")
EXAMPLES = [
    ("sloth", import_sloth, ROOT / "examples/sloth/support-agent.yml",
     ["slo_plugins", "slos[0].alerting.page_alert.for"]),
    ("openslo", import_openslo, ROOT / "examples/openslo/support-agent.yaml",
     ["[1].spec.alertPolicies", "[2].spec.budgetingMethod"]),
]
IDS = ["a Sloth spec", "OpenSLO SLO and SLI documents"]


def _sli_exprs(files: dict[str, str], slo: str) -> dict[str, str]:
    groups = yaml.safe_load(files[slo_rules_path(slo)])["groups"]
    return {r["record"]: r["expr"] for r in groups[0]["rules"]}


@pytest.mark.parametrize(("kind", "convert", "path", "dropped"), EXAMPLES, ids=IDS)
def test_import_round_trip(tmp_path: Path, kind: str, convert, path: Path, dropped: list[str]) -> None:
    result = convert(path.read_text(), str(path))
    for field in dropped:
        assert any(str(d).startswith(field) for d in result.skipped), (field, result.skipped)
    # The written spec is itself a valid agentwatch spec.
    text = dump_spec(result, path.name, kind)
    data, lines = load_yaml(text, "converted.yaml")
    spec = parse_spec(data, lines, "converted.yaml")
    assert spec == result.spec
    files = render(spec)
    for name, body in files.items():
        if name.endswith(".yaml") and "/generated/slo-" in name:
            target = tmp_path / Path(name).name
            target.write_text(body)
            check = subprocess.run(["promtool", "check", "rules", str(target)], capture_output=True, text=True)
            assert check.returncode == 0, check.stdout + check.stderr
    # The availability SLO is recognised as the native SLI: identical recording expressions.
    assert spec.slos[0].sli.kind == "availability"
    assert _sli_exprs(files, "messages-availability") == _sli_exprs(render(NATIVE),
                                                                    "messages-availability")


def test_sloth_latency_events_become_the_native_latency_sli() -> None:
    path = EXAMPLES[0][2]
    spec = import_sloth(path.read_text(), str(path)).spec
    latency = spec.slos[1].sli.latency
    assert latency is not None and latency.threshold == 1.0
    assert spec.slos[1].alerting.ticket.disable
    assert spec.slos[2].sli.kind == "raw"
    precomputed = spec.slos[3].sli.raw  # Sloth's raw SLI: a ratio, no longer skipped
    assert precomputed is not None and precomputed.error_ratio == "my:precomputed:error_ratio{{.window}}"


def test_openslo_good_over_total_stays_raw_and_keeps_its_window() -> None:
    path = EXAMPLES[1][2]
    spec = import_openslo(path.read_text(), str(path)).spec
    fast = spec.slos[1]
    assert fast.sli.raw is not None and fast.sli.raw.good is not None and fast.window == "28d"
    assert fast.objective == 99


@pytest.mark.parametrize(("convert", "text", "words"), [
    (import_sloth, "version: prometheus/v2\nservice: x\n", ["1", "allowed: prometheus/v1"]),
    (import_openslo, "apiVersion: openslo/v1alpha\nkind: SLO\n", ["1", "allowed: apiVersion openslo/v1"]),
    (import_sloth, "version: prometheus/v1\nservice: x\nslos:\n  - name: a\n    objective: 120\n    sli:\n"
                   "      events: {error_query: 'sum(rate(x[{{.window}}]))',\n"
                   "               total_query: 'sum(rate(y[{{.window}}]))'}\n",
     ["4", "slos[0]", "objective"]),
], ids=["a non-Sloth version", "an OpenSLO v1alpha file", "a converted objective out of range"])
def test_import_errors_name_the_foreign_line(convert, text: str, words: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        convert(text, "in.yaml")
    message = str(info.value)
    assert message.startswith(f"in.yaml:{words[0]}: ")
    for word in words[1:]:
        assert word in message


def test_import_cli_writes_the_spec_and_lists_what_it_dropped(tmp_path: Path) -> None:
    out = tmp_path / "agentwatch.yaml"
    refused = CliRunner().invoke(app, ["import", "sloth", str(EXAMPLES[0][2]), "-o", str(out)])
    assert refused.exit_code == 1 and "not converted: Sloth SLO plugins" in refused.output
    assert "--allow-partial" in refused.output and not out.exists()
    result = CliRunner().invoke(app, ["import", "sloth", str(EXAMPLES[0][2]), "-o", str(out), "--allow-partial"])
    assert result.exit_code == 0, result.output
    assert f"{EXAMPLES[0][2]}:7: slo_plugins: not converted: " in result.output
    assert load_spec(out).service.name == "support-agent"
    assert "# NOT CONVERTED" in out.read_text()
    bad = tmp_path / "bad.yml"
    bad.write_text("version: [\n")
    result = CliRunner().invoke(app, ["import", "openslo", str(bad)])
    assert result.exit_code == 1 and "YAML syntax error" in result.output and "Traceback" not in result.output
