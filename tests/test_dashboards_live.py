"""Every dashboard panel shows data from a real agent under load, and renders without an empty panel.

One module-scoped session: the reference agent (real model, real Redis, 5 % injected 5xx), the
support-queue customers of the one locustfile (every outcome, every escalation reason, malformed
requests from the broken client) and a real Prometheus
scraping it every second with the generated SLO and KPI rules (time-scaled so the SLO windows fill
within the run). Queries are substituted the way Grafana would, with the provisioned datasource's
15 s scrape interval, so ``$__rate_interval`` is 1m. Only the panels listed in
``capacity.KUBERNETES_ONLY_PANELS`` may stay empty.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agentwatch import alerts
from agentwatch.cli import app
from agentwatch.dashboards.capacity import KUBERNETES_ONLY_PANELS
from agentwatch.dashboards.config import DASHBOARD_FILES
from agentwatch.dashboards.export import PROVISIONING_DIR
from agentwatch.dashboards.grafana import (
    PrometheusAPI,
    TimeContext,
    interpolate,
    needs_kubernetes,
    resolve_variables,
)
from agentwatch.load.runner import run_load
from agentwatch.load.summary import LoadSummary
from agentwatch.local.processes import AgentProcess, PrometheusServer, RedisServer, prometheus_config, wait_until
from agentwatch.spec import load_spec
from agentwatch.telemetry import catalogue as c

pytestmark = [pytest.mark.live, pytest.mark.model, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
STEMS = list(DASHBOARD_FILES)
LOAD_SECONDS = float(os.environ.get("AGENTWATCH_DASHBOARD_LOAD_SECONDS", "30"))
TIME_SCALE = 60  # SLO windows / 60: the 5m SLI window becomes 5s


@dataclass
class LiveSession:
    prometheus: PrometheusServer
    client: PrometheusAPI
    started: float

    def context(self) -> TimeContext:
        now = time.time()
        return TimeContext(end=now, range_s=now - self.started + 5, scrape_s=15)


def _load(url: str, out: Path) -> LoadSummary:
    """Every persona (22 users: one seat per unit of weight) at a brisk pace, the broken client included."""
    return run_load(url, "steady", LOAD_SECONDS, users=22, think=(0.3, 1.0), seed=3, out_dir=out)


@pytest.fixture(scope="module")
def live(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSession]:
    rules_dir = tmp_path_factory.mktemp("rules")
    files = alerts.render(load_spec(ROOT / "agentwatch.yaml"), time_scale=TIME_SCALE)
    rule_files = []
    for relpath, text in files.items():
        data = yaml.safe_load(text)
        if isinstance(data, dict) and "groups" in data and "kind" not in data:  # Prometheus rule files only
            path = rules_dir / Path(relpath).name
            path.write_text(text)
            rule_files.append(path)
    assert rule_files, f"no rule files among {sorted(files)}"
    env = {"REDIS_URL": redis_server.url, "AGENT_FAULT_ERROR_RATIO": "0.05"}
    with AgentProcess(env) as agent, PrometheusServer(
            prometheus_config([f"127.0.0.1:{agent.port}"], rule_files),
            ["--enable-feature=exemplar-storage"]) as prometheus:
        started = time.time()
        summary = _load(agent.url, tmp_path_factory.mktemp("load"))
        # Every panel needs its data: injected 5xx, escalations closed by a human, abandonment, 4xx probes.
        assert summary.errors_by_class.get("injected_fault"), summary.errors_by_class
        assert {"escalated", "resolved", "abandoned"} <= set(summary.outcomes), summary.outcomes
        assert summary.answers_by_class["ok"] > summary.messages / 2 and summary.turns_lost == 0
        # Two more scrapes and rule evaluations after the last request.
        wait_until(lambda: bool(prometheus.query("slo:period_error_budget_remaining:ratio")), 20, "SLO rules")
        time.sleep(3)
        yield LiveSession(prometheus, PrometheusAPI(prometheus.url), started)


def _dashboard(stem: str) -> dict:
    return json.loads((ROOT / PROVISIONING_DIR / f"{stem}.json").read_text())


@pytest.mark.parametrize("stem", STEMS, ids=lambda s: f"every panel of {s} returns data")
def test_every_panel_returns_data(live: LiveSession, stem: str) -> None:
    dashboard = _dashboard(stem)
    ctx = live.context()
    values = resolve_variables(dashboard, live.client, ctx)
    assert values["__rate_interval"] == "1m"
    assert values["job"] == "(agent)"
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


def test_kpi_stats_show_the_scripted_outcomes(live: LiveSession) -> None:
    """Not just any data: the load's escalations and resolutions show up in the KPI stats."""
    dashboard = _dashboard("agentwatch-kpis")
    ctx = live.context()
    values = resolve_variables(dashboard, live.client, ctx)
    stats = {p["title"]: p["targets"][0]["expr"] for p in dashboard["panels"] if p["type"] == "stat"}
    for title in ("Escalation rate", "First-contact resolution"):
        result = live.client.query(interpolate(stats[title], values), ctx.end)
        assert result and 0 < float(result[0]["value"][1]) < 1, (title, result)


def test_kubernetes_only_panels_are_empty_here(live: LiveSession) -> None:
    """The documented exceptions really depend on Kubernetes: no series without it."""
    dashboard = _dashboard("agentwatch-capacity")
    ctx = live.context()
    values = resolve_variables(dashboard, live.client, ctx)
    panels = [p for p in dashboard["panels"] if p["title"] in KUBERNETES_ONLY_PANELS]
    assert len(panels) == len(KUBERNETES_ONLY_PANELS)
    for panel in panels:
        for target in panel["targets"]:
            assert live.client.query_range(interpolate(target["expr"], values), ctx.end - ctx.range_s, ctx.end,
                                           ctx.interval_s) == []


def test_latency_exemplars_carry_trace_ids(live: LiveSession) -> None:
    """What Grafana's exemplar links read: ``trace_id`` on the request-latency buckets."""
    ctx = live.context()
    data = live.client.exemplars(c.REQUEST_DURATION.bucket, ctx.end - ctx.range_s, ctx.end)
    trace_ids = [e["labels"].get("trace_id") for series in data for e in series["exemplars"]]
    assert trace_ids and all(re.fullmatch(r"[0-9a-f]{32}", t or "") for t in trace_ids)


def test_render_draws_every_dashboard_without_an_empty_panel(live: LiveSession, tmp_path: Path) -> None:
    out = Path(os.environ.get("AGENTWATCH_RENDER_DIR") or tmp_path)
    range_s = int(time.time() - live.started) + 5
    result = CliRunner().invoke(app, ["dashboards", "render", "--prometheus", live.prometheus.url,
                                      "--range", f"{range_s}s", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for stem in STEMS:
        png = out / f"{stem}.png"
        assert png.stat().st_size > 20_000, f"{png} is suspiciously small"
        line = next(line for line in result.output.splitlines() if line.startswith(f"wrote {png}"))
        empty = line.split("; empty: ")[1].split(", ") if "; empty: " in line else []
        assert set(empty) <= set(KUBERNETES_ONLY_PANELS), line
