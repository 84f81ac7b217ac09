"""Live: the real agent with injected 500s, a real Prometheus running the generated rules (time-scaled
÷60), and a real Alertmanager delivering the page to a local webhook."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from pytest_httpserver import HTTPServer

from agentwatch.alerts import KPI_RULES, render, slo_rules_path
from agentwatch.alerts import conventions as cv
from agentwatch.local.processes import (
    AgentProcess,
    AlertmanagerServer,
    PrometheusServer,
    RedisServer,
    prometheus_config,
    wait_until,
)
from agentwatch.spec import load_spec
from agentwatch.spec.model import AlertmanagerSettings, Receiver

pytestmark = [pytest.mark.live, pytest.mark.model, pytest.mark.timeout(240)]

ROOT = Path(__file__).parent.parent
TIME_SCALE = 60  # 1h → 1m, 5m → 5s, for 2m → 2s


@pytest.fixture
def webhook(httpserver: HTTPServer) -> tuple[str, Callable[[], list[tuple[str, dict]]]]:
    """Alertmanager's webhook target (pytest-httpserver) and the ``(path, payload)`` pairs it got."""
    httpserver.expect_request(re.compile("/.*"), method="POST").respond_with_data("")
    return httpserver.url_for("").rstrip("/"), lambda: [(r.path, r.get_json()) for r, _ in httpserver.log]


def _load(url: str, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                client.post(f"/v1/conversations/live-{i % 50}/messages", json={"text": "where is my order?"})
            except httpx.HTTPError:
                time.sleep(0.05)


def test_availability_page_fires_and_reaches_the_webhook(redis_server: RedisServer, webhook, tmp_path: Path):
    hook_url, received = webhook
    native = load_spec(ROOT / "agentwatch.yaml")
    receivers = AlertmanagerSettings(page=Receiver(url=f"{hook_url}/page"), ticket=Receiver(url=f"{hook_url}/ticket"),
                                     default=Receiver(url=f"{hook_url}/default"))
    spec = native.model_copy(update={"alertmanager": receivers})
    files = render(spec, time_scale=TIME_SCALE)
    rule_paths = []
    for name in [slo_rules_path(s.name) for s in spec.slos] + [KPI_RULES]:
        target = tmp_path / Path(name).name
        target.write_text(files[name])
        rule_paths.append(str(target))

    stop = threading.Event()
    with AgentProcess(env={"REDIS_URL": redis_server.url, "AGENT_FAULT_ERROR_RATIO": "0.5"}) as agent, \
            AlertmanagerServer(files["alerts/generated/alertmanager.yaml"]) as am:
        config = prometheus_config([f"127.0.0.1:{agent.port}"], rule_paths, alertmanager=f"127.0.0.1:{am.port}")
        with PrometheusServer(config) as prom:
            loader = threading.Thread(target=_load, args=(agent.url, stop), daemon=True)
            loader.start()
            try:
                start = time.monotonic()
                page = ('ALERTS{alertname="AgentWatchMessagesAvailabilityBudgetBurn",'
                        'severity="page",alertstate="firing"}')
                # 50% errors = 500x the 0.1% budget: the 1h/5m tier (1m/5s here) fires once both windows
                # have two scrapes and `for` (2s) has passed; allow for model warm-up and scrape jitter.
                wait_until(lambda: bool(prom.query(page)), 60, "the availability page alert to fire")
                fired_after = time.monotonic() - start
                assert fired_after < 60

                slo_id = spec.sloth_id(spec.slos[0])
                records = {rule["record"] for name in (slo_rules_path(s.name) for s in spec.slos)
                           for group in yaml.safe_load(files[name])["groups"] for rule in group["rules"]
                           if "record" in rule}
                missing: set[str] = set()

                def every_record_has_a_sample() -> bool:
                    missing.clear()
                    missing.update(r for r in records if not prom.query(r))
                    return not missing

                wait_until(every_record_has_a_sample, 30, f"a sample of every recording rule ({missing})")
                burn = prom.query(f'{cv.SLO_CURRENT_BURN_RATE}{{{cv.LABEL_ID}="{slo_id}"}}')
                assert 200 < float(burn[0]["value"][1]) < 800  # ≈ 0.5 / 0.001

                wait_until(lambda: any(path == "/page" and any(
                    a["labels"].get("alertname") == "AgentWatchMessagesAvailabilityBudgetBurn"
                    and a["labels"].get("severity") == "page" for a in body["alerts"]) for path, body in received()),
                    30, "Alertmanager to deliver the page to the webhook")
                assert all(a["labels"]["severity"] == "page" for path, body in received() if path == "/page"
                           for a in body["alerts"])
            finally:
                stop.set()
                loader.join(timeout=15)
