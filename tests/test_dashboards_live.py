"""Every dashboard panel shows a true value from real agents under load, and renders without an empty panel.

Two module-scoped sessions, each with the support-queue customers of the one locustfile (every
outcome, every escalation reason) and a real Prometheus scraping the agents every second with the
generated SLO, KPI and by-version rules (time-scaled so their windows fill within the run):

* ``faults``: two agents of one version (real model, real Redis) with 5 % injected 5xx, and the
  broken client's malformed requests; half-way the second restarts, polled for readiness while its
  model loads and taken out of the load meanwhile, as Kubernetes and the demo do (this drew the
  failed-request ratio at 850 %);
* ``healthy``: two agents of different versions, no fault and no malformed request at all:
  error-ratio panels must read 0 %, not "No data".

Queries are substituted the way Grafana would, with the provisioned datasource's 15 s scrape
interval, so ``$__rate_interval`` is 1m. Only the panels listed in ``capacity.KUBERNETES_ONLY_PANELS``
may stay empty, and no panel may show an impossible value: a ratio outside [0, 1] (stacked ratios
summing above 1), a batch size or turn count below 1, a count of versions other than the versions
running.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agentwatch import __version__, alerts
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
from agentwatch.dashboards.panel_data import query_panel
from agentwatch.load.runner import LoadError, run_load, start_load
from agentwatch.load.summary import LoadSummary
from agentwatch.local.processes import AgentProcess, PrometheusServer, RedisServer, prometheus_config, wait_until
from agentwatch.spec import load_spec
from agentwatch.telemetry import catalogue as c

pytestmark = [pytest.mark.live, pytest.mark.model, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
STEMS = list(DASHBOARD_FILES)
LOAD_SECONDS = float(os.environ.get("AGENTWATCH_DASHBOARD_LOAD_SECONDS", "30"))
TIME_SCALE = 60  # SLO windows / 60: the 5m SLI window becomes 5s


@dataclass(frozen=True)
class Scenario:
    name: str
    #: AGENT_VERSION of each agent process ("" keeps the default: agentwatch's version).
    versions: tuple[str, ...]
    fault_ratio: float
    #: Include the broken client's malformed requests (4xx).
    probes: bool
    restart: bool = False
    load_seconds: float = LOAD_SECONDS


SCENARIOS = (Scenario("faults", ("", ""), 0.05, probes=True, restart=True),
             Scenario("healthy", ("1.0.0", "1.1.0"), 0.0, probes=False, load_seconds=min(20.0, LOAD_SECONDS)))


@dataclass
class LiveSession:
    prometheus: PrometheusServer
    client: PrometheusAPI
    started: float
    scenario: Scenario
    versions: set[str]

    def context(self, scrape_s: float = 15) -> TimeContext:
        now = time.time()
        return TimeContext(end=now, range_s=now - self.started + 5, scrape_s=scrape_s)


def _load(urls: list[str], scenario: Scenario, seconds: float, out: Path) -> LoadSummary:
    """Every persona (22 users: one seat per unit of weight) at a brisk pace."""
    return run_load(urls, "steady", seconds, users=22, think=(0.3, 1.0), seed=3, out_dir=out,
                    probes=scenario.probes)


def _restart_under_load(agents: list[AgentProcess], scenario: Scenario, out: Path) -> None:
    """Restart the last agent while the others keep serving (a load balancer skips an unready pod)."""
    serving = [a.url for a in agents[:-1]]
    run = start_load(serving, "steady", 120, users=4, think=(0.3, 1.0), seed=4, out_dir=out,
                     probes=scenario.probes, verify=False)
    try:
        agents[-1].close()
        agents[-1] = AgentProcess(agents[-1].env, port=agents[-1].port).start()
    finally:
        run.stop()  # stopped early on purpose: its summary is not needed
        with contextlib.suppress(LoadError):
            run.wait(60)


def _start_all(agents: list[AgentProcess]) -> None:
    with ThreadPoolExecutor(len(agents)) as pool:  # model loads overlap
        list(pool.map(lambda agent: agent.start(), agents))


@pytest.fixture(scope="module", params=SCENARIOS, ids=lambda s: s.name)
def live(request: pytest.FixtureRequest, redis_server: RedisServer,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSession]:
    scenario: Scenario = request.param
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
    env = {"REDIS_URL": redis_server.url, "AGENT_FAULT_ERROR_RATIO": str(scenario.fault_ratio)}
    agents = [AgentProcess({**env, **({"AGENT_VERSION": v} if v else {})}) for v in scenario.versions]
    try:
        _start_all(agents)
        with PrometheusServer(prometheus_config([f"127.0.0.1:{a.port}" for a in agents], rule_files),
                              ["--enable-feature=exemplar-storage"]) as prometheus:
            started = time.time()
            urls = [a.url for a in agents]
            loads = tmp_path_factory.mktemp("load")
            halves = [_load(urls, scenario, scenario.load_seconds / 2, loads / "1")]
            if scenario.restart:  # readiness polls while the model loads must not count as failed requests
                _restart_under_load(agents, scenario, loads / "restart")
            halves.append(_load(urls, scenario, scenario.load_seconds / 2, loads / "2"))
            errors = {k for half in halves for k, n in half.errors_by_class.items() if n}
            # Every panel needs its data: escalations closed by a human, abandonment, and errors or none.
            assert errors >= {"injected_fault"} if scenario.fault_ratio else not errors, errors
            assert {"escalated", "resolved", "abandoned"} <= {o for h in halves for o in h.outcomes}
            assert all(h.answers_by_class["ok"] > h.messages / 2 and h.turns_lost == 0 for h in halves)
            # Two more scrapes and rule evaluations after the last request.
            wait_until(lambda: bool(prometheus.query("slo:period_error_budget_remaining:ratio")), 20, "SLO rules")
            time.sleep(3)
            versions = {s["version"] for s in PrometheusAPI(prometheus.url).series(c.BUILD_INFO.name,
                                                                                  started - 60, time.time())}
            yield LiveSession(prometheus, PrometheusAPI(prometheus.url), started, scenario, versions)
    finally:
        for agent in agents:
            agent.close()


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


#: Ratios that may leave [0, 1] by definition: a budget overspent is below 0.
UNBOUNDED_RATIOS = ("Error budget remaining", "Error budget remaining over time")
#: Panels of counts whose smallest possible value is 1 (histogram quantiles floored at the catalogue minimum).
AT_LEAST_ONE = ("Batch size", "Conversation length p50 / p90", "Mean turns per conversation")


@pytest.mark.parametrize("stem", STEMS, ids=lambda s: f"no impossible value on {s}")
def test_no_panel_shows_an_impossible_value(live: LiveSession, stem: str) -> None:
    """At the resolution the demo renders with (Prometheus scrapes every second: a 4 s
    ``$__rate_interval``), where a restart once drew the failed-request ratio at 850 %."""
    dashboard = _dashboard(stem)
    ctx = live.context(scrape_s=1)
    values = resolve_variables(dashboard, live.client, ctx)
    wrong = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        result = query_panel(panel, live.client, ctx, values)
        points = [(s.legend, t, v) for s in result.series for t, v in s.points if not math.isnan(v)]
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        if defaults.get("unit") == "percentunit" and result.title not in UNBOUNDED_RATIOS:
            wrong += [f"{result.title} {legend}: {v:.4g} outside [0, 1]" for legend, _, v in points
                      if not -1e-9 <= v <= 1 + 1e-9]
            if defaults.get("custom", {}).get("stacking", {}).get("mode") == "normal":
                stacked: dict[float, float] = defaultdict(float)
                for _, t, v in points:
                    stacked[t] += v
                wrong += [f"{result.title}: stacked to {v:.4g} at {t}" for t, v in stacked.items() if v > 1 + 1e-9]
        if result.title in AT_LEAST_ONE:
            wrong += [f"{result.title} {legend}: {v:.4g} below 1" for legend, _, v in points if v < 1 - 1e-9]
    assert not wrong, "\n".join(wrong[:20])


def test_version_panels_count_the_versions_running(live: LiveSession) -> None:
    dashboard = _dashboard("agentwatch-overview")
    ctx = live.context()
    values = resolve_variables(dashboard, live.client, ctx)
    panels = {p["title"]: query_panel(p, live.client, ctx, values) for p in dashboard["panels"]
              if p["title"] in ("Running versions", "Instances per version")}
    running_versions = Counter(v or __version__ for v in live.scenario.versions)  # "": agentwatch's version
    [running] = panels["Running versions"].series
    assert running.last == len(live.versions) == len(running_versions), "versions, not instances"
    assert max(v for _, v in running.points) == len(running_versions)
    assert {s.legend: s.last for s in panels["Instances per version"].series} == running_versions
    [appeared] = [a for a in dashboard["annotations"]["list"] if a["name"] == "Version appeared"]
    marks = live.client.query_range(interpolate(appeared["expr"], values), live.started, ctx.end, 5)
    assert {m["metric"]["version"] for m in marks} == live.versions, "a marker where each version appears"


def test_error_ratios_read_zero_not_no_data_on_a_healthy_service(live: LiveSession) -> None:
    if live.scenario.fault_ratio:
        pytest.skip("the faulty session has errors")
    ctx = live.context()
    for stem, title in (("agentwatch-overview", "5xx error ratio"), ("agentwatch-slos", "5xx ratio by instance"),
                        ("agentwatch-overview", "5xx error ratio by version (10m)")):
        dashboard = _dashboard(stem)
        values = resolve_variables(dashboard, live.client, ctx)
        [panel] = [p for p in dashboard["panels"] if p["title"] == title]
        result = query_panel(panel, live.client, ctx, values)
        assert result.series and all(s.last == 0 for s in result.series), (title, result.series)


def test_render_draws_every_dashboard_without_an_empty_panel(live: LiveSession, tmp_path: Path) -> None:
    out = Path(os.environ.get("AGENTWATCH_RENDER_DIR") or tmp_path) / live.scenario.name
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
