"""A second, different agent proves agentwatch is not tied to the reference agent.

docs-helper (``examples/retrieval-agent``: FastAPI, its own intents, error classes and queue, no
Redis, no model download) is instrumented only through ``agentwatch.telemetry``. It runs as a real
process under load with 30 % injected 5xx, scraped every second by a real Prometheus loading the
rules generated from *its* spec (time-scaled x60). Every panel of its generated dashboards must
return data (Kubernetes-only panels aside), panels on metrics it does not emit must be gone, and
the availability SLO's page alert must fire.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from agentwatch import alerts
from agentwatch.alerts.slo_alerts import alert_name
from agentwatch.dashboards.capacity import KUBERNETES_ONLY_PANELS
from agentwatch.dashboards.export import PROVISIONING_DIR
from agentwatch.dashboards.export import render as render_dashboards
from agentwatch.dashboards.grafana import PrometheusAPI, TimeContext, interpolate, needs_kubernetes, resolve_variables
from agentwatch.local.processes import HttpProcess, PrometheusServer, prometheus_config, wait_until
from agentwatch.spec import load_spec
from agentwatch.telemetry import catalogue as c

pytestmark = [pytest.mark.live, pytest.mark.timeout(240)]

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "retrieval-agent"
SPEC = load_spec(EXAMPLE / "agentwatch.yaml")
TIME_SCALE = 60
LOAD_SECONDS = 25.0
FAULT_RATIO = 0.3
QUESTIONS = [
    "how do I install the cli", "how do I reset my password", "my sync keeps failing with an error",
    "what does the team plan cost for 5 seats", "how can I delete my account", "the dashboard is slow",
    "how do I export my data as csv", "login loop after sign in", "how to create api tokens",
    "webhook failed timeout", "refund for annual plan", "zzz qqq",
]


class DocsHelper(HttpProcess):
    """The example agent as a real process (``python retrieval_agent.py``) on a free port."""

    name = "docs-helper"
    ready_path = "/readyz"

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__()
        self.env = {**os.environ, **env}

    def command(self) -> list[str]:
        return [sys.executable, str(EXAMPLE / "retrieval_agent.py"), "--port", str(self.port)]


@dataclass
class Session:
    prometheus: PrometheusServer
    client: PrometheusAPI
    started: float
    dashboards: dict[str, dict]
    codes: dict[int, int]

    def context(self) -> TimeContext:
        now = time.time()
        return TimeContext(end=now, range_s=now - self.started + 5, scrape_s=15)


async def _load(url: str, seconds: float) -> dict[int, int]:
    """Eight concurrent askers for ``seconds`` (bounded), plus a few 4xx: empty questions, bad routes."""
    codes: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    questions = itertools.cycle(QUESTIONS)

    async def asker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            response = await client.post(f"{url}/v1/ask", json={"question": next(questions)})
            codes[response.status_code] = codes.get(response.status_code, 0) + 1
            await asyncio.sleep(0.05)

    async def misfits(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            for call in (client.post(f"{url}/v1/ask", json={"question": ""}), client.get(f"{url}/v1/passages/x"),
                         client.get(f"{url}/v1/passages/plans"), client.get(f"{url}/nowhere")):
                response = await call
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
            await asyncio.sleep(0.5)

    async with httpx.AsyncClient(timeout=10) as client:
        await asyncio.gather(*(asker(client) for _ in range(8)), misfits(client))
    return codes


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    rules_dir = tmp_path_factory.mktemp("rules")
    rule_files = []
    for relpath, text in alerts.render(SPEC, time_scale=TIME_SCALE).items():
        data = yaml.safe_load(text)
        if isinstance(data, dict) and "groups" in data and "kind" not in data:
            path = rules_dir / Path(relpath).name
            path.write_text(text)
            rule_files.append(path)
    dashboards = {Path(p).stem: json.loads(text) for p, text in render_dashboards(SPEC).items()
                  if p.startswith(PROVISIONING_DIR)}
    env = {"DOCS_HELPER_FAULT_RATIO": str(FAULT_RATIO), "DOCS_HELPER_TOOL_FAILURE_RATIO": "0.2",
           "DOCS_HELPER_LOAD_SECONDS": "0.2", "AGENTWATCH_STRICT_LABELS": "true"}
    with DocsHelper(env) as agent, PrometheusServer(prometheus_config([f"127.0.0.1:{agent.port}"], rule_files),
                                                    ["--enable-feature=exemplar-storage"]) as prometheus:
        started = time.time()
        codes = asyncio.run(_load(agent.url, LOAD_SECONDS))
        wait_until(lambda: bool(prometheus.query("slo:period_error_budget_remaining:ratio")), 20, "SLO rules")
        time.sleep(3)  # a few more scrapes and rule evaluations after the last request
        yield Session(prometheus, PrometheusAPI(prometheus.url), started, dashboards, codes)


def test_the_load_saw_successes_injected_faults_and_client_errors(live: Session) -> None:
    assert live.codes.get(200, 0) > 100, live.codes
    assert live.codes.get(500, 0) > 20 and live.codes.get(404, 0) and live.codes.get(400, 0), live.codes


@pytest.mark.parametrize("stem", ["agentwatch-overview", "agentwatch-slos", "agentwatch-kpis", "agentwatch-capacity"])
def test_every_panel_of_its_dashboards_returns_data(live: Session, stem: str) -> None:
    dashboard = live.dashboards[stem]
    ctx = live.context()
    values = resolve_variables(dashboard, live.client, ctx)
    empty, checked = [], 0
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = interpolate(target["expr"], values)
            if panel["title"] in KUBERNETES_ONLY_PANELS or needs_kubernetes(expr):
                continue
            checked += 1
            result = live.client.query_range(expr, ctx.end - ctx.range_s, ctx.end, ctx.interval_s)
            if not any(series["values"] for series in result):
                empty.append(f"{panel['title']} [{target['refId']}]: {expr}")
    assert checked and not empty, "queries without data:\n" + "\n".join(empty)


def test_panels_on_metrics_it_does_not_emit_are_gone(live: Session) -> None:
    exprs = " ".join(t["expr"] for d in live.dashboards.values() for p in d["panels"] for t in p.get("targets", []))
    for metric in (c.STATE_FETCH_DURATION, c.CONVERSATIONS_ENDED, c.ESCALATIONS, c.CONVERSATION_TURNS):
        assert metric.name not in exprs, f"{metric.name} is not emitted by docs-helper"
    for metric in (c.INTENTS_TOTAL, c.QUEUE_WAIT, c.MODEL_LOADED, c.ERRORS):
        assert metric.name in exprs
    rows = [p["title"] for p in live.dashboards["agentwatch-kpis"]["panels"] if p["type"] == "row"]
    assert rows == ["Over the selected time range", "Conversations and intents"], rows


def test_the_availability_page_alert_fires_on_the_injected_errors(live: Session) -> None:
    slo = next(s for s in SPEC.slos if s.name == "ask-availability")
    name = alert_name(slo, "page")

    def firing() -> list[dict]:
        return live.prometheus.query(f'ALERTS{{alertname="{name}",alertstate="firing",severity="page"}}')

    wait_until(lambda: bool(firing()), 30, f"{name} to fire")
    alert = firing()[0]["metric"]
    assert alert["slo"] == "ask-availability" and alert["service"] == "docs-helper", alert
