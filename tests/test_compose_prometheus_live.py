"""compose/prometheus/prometheus.yml in a real Prometheus, scraping a real agent.

The config is used as committed except for one target address (``agent-a:8000`` → the local
agent); the feature flags come from the compose file's prometheus command and the rule files
sit where the container mounts them (``rules/`` beside the config). Load comes from the compose
load generator's own CLI. The other compose targets do not resolve here and stay down.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

from agentwatch.local.processes import AgentProcess, PrometheusServer, RedisServer, http_get_json, wait_until
from agentwatch.telemetry import catalogue as c

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose" / "docker-compose.yaml"
PROMETHEUS_YML = ROOT / "compose" / "prometheus" / "prometheus.yml"


@pytest.mark.live
@pytest.mark.timeout(90)
def test_the_compose_prometheus_scrapes_the_agent_and_stores_its_exemplars(redis_server: RedisServer) -> None:
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
            load = subprocess.run([sys.executable, "-m", "agentwatch.loadgen", "--url", agent.url,
                                   "--duration", "3", "--rate", "4", "--bad-request-share", "0"],
                                  capture_output=True, text=True, timeout=60)
            assert load.returncode == 0, load.stderr
            assert '"200":' in load.stdout, load.stdout

            def agent_up() -> bool:
                return prometheus.query(f'up{{job="agent",instance="{target}"}} == 1') != []

            wait_until(agent_up, 40, "the agent target up")
            params = urllib.parse.urlencode({"query": c.REQUEST_DURATION.bucket,
                                             "start": str(time.time() - 120), "end": str(time.time() + 5)})

            def exemplars() -> list[dict]:
                body = http_get_json(f"{prometheus.url}/api/v1/query_exemplars?{params}")
                return [e for series in body["data"] for e in series["exemplars"]]

            # The load ran before the first scrape finished, or will be in the next (15 s interval).
            wait_until(lambda: bool(exemplars()), 40, "exemplars of the request-duration histogram")
            trace_ids = {e["labels"].get("trace_id", "") for e in exemplars()}
            assert all(re.fullmatch("[0-9a-f]{32}", t) for t in trace_ids), trace_ids

            rules = http_get_json(f"{prometheus.url}/api/v1/rules")["data"]["groups"]
            files = {Path(g["file"]).name for g in rules}
            assert "kpi-rules.yaml" in files and any(f.startswith("slo-") for f in files), files
            targets = http_get_json(f"{prometheus.url}/api/v1/targets")["data"]["activeTargets"]
            jobs = {t["labels"]["job"] for t in targets}
            assert {"agent", "otel-collector", "jaeger", "alertmanager"} <= jobs
