"""compose/prometheus/prometheus.yml in a real Prometheus, scraping a real agent.

The config is used as committed except for one target address (``agent-a:8000`` → the local
agent); the feature flags come from the compose file's prometheus command and the rule files
sit where the container mounts them (``rules/`` beside the config). Load comes from the compose
load generator's own CLI. The other compose targets do not resolve here and stay down.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agentwatch.local.processes import AgentProcess, PrometheusServer, RedisServer, wait_until
from agentwatch.telemetry import catalogue as c

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose" / "docker-compose.yaml"
PROMETHEUS_YML = ROOT / "compose" / "prometheus" / "prometheus.yml"


@pytest.mark.live
@pytest.mark.timeout(90)
def test_the_compose_prometheus_scrapes_the_agent_and_stores_its_exemplars(redis_server: RedisServer,
                                                                          tmp_path: Path) -> None:
    command = yaml.safe_load(COMPOSE.read_text())["services"]["prometheus"]["command"]
    features = [arg for arg in command if arg.startswith("--enable-feature=")]
    assert "--enable-feature=exemplar-storage" in features
    config = PROMETHEUS_YML.read_text()
    assert config.count('"agent-a:8000"') == 1
    # Every trace kept: this test is about exemplar storage, not about which traces the agent keeps.
    with AgentProcess(env={"REDIS_URL": redis_server.url, "AGENTWATCH_TRACES_KEEP_RATIO": "1"}) as agent:
        target = f"127.0.0.1:{agent.port}"
        server = PrometheusServer(config.replace('"agent-a:8000"', f'"{target}"'), features)
        # rule_files are relative to the config's folder, as /etc/prometheus/rules is in the container.
        shutil.copytree(ROOT / "alerts" / "generated", server.workdir / "rules")
        with server as prometheus:
            load = subprocess.run([sys.executable, "-m", "agentwatch", "load", "--url", agent.url,
                                   "--duration", "3s", "--users", "4", "--think-time", "0.2,0.5", "--no-probes",
                                   "--out", str(tmp_path / "load"), "--json"],
                                  capture_output=True, text=True, timeout=90)
            assert load.returncode == 0, load.stderr
            summary = json.loads(load.stdout)
            assert summary["messages"] > 0 and summary["turns_lost"] == 0, summary

            def agent_up() -> bool:
                return prometheus.query(f'up{{job="agent",instance="{target}"}} == 1') != []

            wait_until(agent_up, 40, "the agent target up")
            since = time.time() - 120

            def exemplars() -> list[dict]:
                found = prometheus.api.exemplars(c.REQUEST_DURATION.bucket, since, time.time() + 5)
                return [e for series in found for e in series["exemplars"]]

            # The load ran before the first scrape finished, or will be in the next (15 s interval).
            wait_until(lambda: bool(exemplars()), 40, "exemplars of the request-duration histogram")
            trace_ids = {e["labels"].get("trace_id", "") for e in exemplars()}
            assert all(re.fullmatch("[0-9a-f]{32}", t) for t in trace_ids), trace_ids

            rules = prometheus.api.rules()
            files = {Path(g["file"]).name for g in rules}
            assert "kpi-rules.yaml" in files and any(f.startswith("slo-") for f in files), files
            targets = prometheus.api.targets()
            jobs = {t["labels"]["job"] for t in targets}
            assert {"agent", "otel-collector", "jaeger", "alertmanager"} <= jobs
