"""The adapter's and KEDA's queries, run against a real Prometheus scraping two real agents.

Two ``agentwatch serve`` processes stand in for two pods: Prometheus relabels each scrape target
with the ``namespace`` and ``pod`` labels the Prometheus Operator would add. The adapter's
``metricsQuery`` templates are rendered as prometheus-adapter renders them (namespace matcher
first, then the pods joined by ``|``) and must return exactly one sample per pod; each KEDA
trigger query must return one number.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentwatch.k8s.adapter import adapter_rules, render_metrics_query, signals
from agentwatch.k8s.autoscalers import keda_queries
from agentwatch.k8s.workload import settings
from agentwatch.local.processes import AgentProcess, PrometheusServer, RedisServer, wait_until
from agentwatch.spec import Spec, load_spec
from agentwatch.telemetry import catalogue as c

pytestmark = [pytest.mark.live, pytest.mark.model, pytest.mark.timeout(120)]

PODS = ("support-agent-6d8f7c9b5-a1b2c", "support-agent-6d8f7c9b5-d3e4f")


def _spec() -> Spec:
    return load_spec(Path(__file__).resolve().parents[1] / "agentwatch.yaml")


def prometheus_config(spec: Spec, targets: dict[str, str]) -> str:
    """Scrape every agent each second; relabel each target with namespace and its pod name."""
    namespace = settings(spec).namespace
    job = spec.service.selector.get("job", spec.service.name)
    relabel = [f"""      - target_label: namespace
        replacement: {namespace}"""]
    for address, pod in targets.items():
        relabel.append(f"""      - source_labels: [__address__]
        regex: '{address.replace('.', '[.]')}'
        target_label: pod
        replacement: {pod}""")
    addresses = ", ".join(f"'{a}'" for a in targets)
    return f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: {job}
    static_configs:
      - targets: [{addresses}]
    relabel_configs:
{chr(10).join(relabel)}
"""


@dataclass
class Live:
    spec: Spec
    prometheus: PrometheusServer


def _start_all(agents: list[AgentProcess]) -> None:
    """Start the agents side by side (each loads the model): the cold starts overlap."""
    errors: list[BaseException] = []

    def start(agent: AgentProcess) -> None:
        try:
            agent.start(timeout=60)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.fixture(scope="module")
def live(redis_server: RedisServer) -> Iterator[Live]:
    spec = _spec()
    agents = [AgentProcess({"REDIS_URL": redis_server.url, "AGENT_TORCH_THREADS": "1"}) for _ in PODS]
    try:
        _start_all(agents)
        targets = {f"127.0.0.1:{a.port}": pod for a, pod in zip(agents, PODS, strict=True)}
        with PrometheusServer(prometheus_config(spec, targets)) as prometheus:
            queue = c.QUEUE_LENGTH.name
            wait_until(lambda: len(prometheus.query(f"{queue}{{pod!=\"\",namespace!=\"\"}}")) == len(PODS), 30,
                       "both agents' queue length in Prometheus")
            # rate() needs two scrapes: wait until every rule answers for every pod.
            namespace = settings(spec).namespace
            wait_until(lambda: all(len(prometheus.query(render_metrics_query(rule, namespace, PODS))) == len(PODS)
                                   for rule in adapter_rules(spec)), 30, "every adapter rule answering per pod")
            yield Live(spec, prometheus)
    finally:
        for agent in agents:
            agent.close()


def test_adapter_queries_return_one_sample_per_pod(live: Live) -> None:
    namespace = settings(live.spec).namespace
    rules = adapter_rules(live.spec)
    assert {r["name"]["as"] for r in rules} >= {c.QUEUE_LENGTH.name}
    for rule in rules:
        query = render_metrics_query(rule, namespace, PODS)
        assert f'namespace="{namespace}",pod=~"{"|".join(PODS)}"' in query
        samples = live.prometheus.query(query)
        assert sorted(s["metric"].get("pod") for s in samples) == sorted(PODS), (query, samples)
        for sample in samples:
            assert set(sample["metric"]) == {"pod"}, sample  # grouped by the pod label only
            assert math.isfinite(float(sample["value"][1]))


def test_adapter_query_for_one_pod_uses_an_equality_matcher(live: Live) -> None:
    namespace = settings(live.spec).namespace
    for rule in adapter_rules(live.spec):
        query = render_metrics_query(rule, namespace, PODS[:1])
        assert f'pod="{PODS[0]}"' in query
        samples = live.prometheus.query(query)
        assert [s["metric"]["pod"] for s in samples] == [PODS[0]]


def test_adapter_query_sees_nothing_in_another_namespace(live: Live) -> None:
    for rule in adapter_rules(live.spec):
        assert live.prometheus.query(render_metrics_query(rule, "someone-else", PODS)) == []


def test_keda_queries_return_one_number_the_sum_of_the_adapters(live: Live) -> None:
    """For the pods of the namespace, KEDA's number is the sum of the adapter's per-pod values."""
    queries = keda_queries(live.spec)
    namespace = settings(live.spec).namespace
    assert queries
    at = time.time()
    for signal, rule in zip(signals(live.spec), adapter_rules(live.spec), strict=True):
        samples = live.prometheus.query(queries[signal.trigger_name], at=at)
        assert len(samples) == 1, (signal.name, samples)
        value = float(samples[0]["value"][1])
        assert math.isfinite(value) and value >= 0
        per_pod = live.prometheus.query(render_metrics_query(rule, namespace, PODS), at=at)
        assert len(per_pod) == len(PODS), (signal.name, per_pod)
        assert value == pytest.approx(sum(float(s["value"][1]) for s in per_pod)), signal.name



def test_hpa_sim_builds_its_load_from_this_prometheus(live: Live, tmp_path: Path) -> None:
    """``hpa-sim --prometheus`` runs the adapter's queries for the generated HPA's metrics."""
    from typer.testing import CliRunner

    from agentwatch import k8s
    from agentwatch.cli import app

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "out.csv"
    hpa = root / k8s.OVERLAYS["hpa"] / "horizontalpodautoscaler.yaml"
    time.sleep(4)  # a few seconds of samples in every rule's window
    result = CliRunner().invoke(app, ["hpa-sim", "--hpa", str(hpa), "--prometheus", live.prometheus.url,
                                      "--since", "15s", "--sync-period", "1", "--spec", str(root / "agentwatch.yaml"),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    load = out.with_suffix(".load.csv").read_text().splitlines()
    assert load[0] == "time_s," + ",".join(s.name for s in signals(live.spec))
    assert len(load) > 2
    rows = out.read_text().splitlines()
    assert rows[0] == "time_s,replicas,desired" and len(rows) > 2
