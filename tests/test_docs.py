"""The README's generated sections are current, and it documents every agent setting."""

from __future__ import annotations

import re
from pathlib import Path

from agentwatch.agent.settings import AgentSettings, env_name
from agentwatch.docs import catalogue_markdown, replace_section
from agentwatch.telemetry import catalogue as c

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_catalogue_table_in_the_readme_is_current():
    text = README.read_text()
    assert replace_section(text, "catalogue", catalogue_markdown()) == text, "run `make generate`"


def test_the_catalogue_table_lists_every_metric_once():
    table = catalogue_markdown()
    for metric in c.METRICS:
        assert table.count(f"| `{metric.name}` |") == 1


def test_the_readme_documents_every_agent_setting():
    documented = set(re.findall(r"`((?:AGENT_|REDIS_)[A-Z_]+)`", README.read_text()))
    settings = {env_name(AgentSettings, field) for field in AgentSettings.model_fields}
    assert settings - documented == set()
    settings.add("AGENT_VERSION")  # read by TelemetrySettings (the library table), not AgentSettings
    assert documented - settings == set(), "the README documents settings the agent does not read"
