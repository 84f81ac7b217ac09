"""A bad release caught live: two agent versions side by side, one of them faulty.

Version 1.0.0 (healthy) and then 2.0.0 (30 % injected 5xx, 30 % of requests 3 s slower) share a real
Redis; a real Prometheus scrapes both every second with the generated rules (time-scaled x30) and
the target labels the Prometheus Operator would add (``namespace``, and ``pod`` names the way Flagger
names primary and canary pods). Under load:

* the version-regression alert fires for 2.0.0 and never for 1.0.0;
* the generated Argo Rollouts AnalysisTemplate queries, with ``{{args.version}}`` filled in and their
  conditions applied as Argo does, fail 2.0.0 and pass 1.0.0 on every SLO;
* the generated Flagger MetricTemplate queries fail the canary pod and pass the primary's pods against
  the Canary's ``thresholdRange``.

The test spec differs from agentwatch.yaml only where a one-minute run needs it: a 2.5 s latency
threshold (robust on a loaded machine), fewer requests per window, a 20 s canary window.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from agentwatch import alerts
from agentwatch.alerts import conventions as cv
from agentwatch.k8s import canary
from agentwatch.load.runner import LoadError, start_load
from agentwatch.local.processes import AgentProcess, PrometheusServer, RedisServer, wait_until
from agentwatch.spec.model import Spec

pytestmark = [pytest.mark.live, pytest.mark.model, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
TIME_SCALE = 30
HEALTHY, FAULTY = "1.0.0", "2.0.0"
NAMESPACE = "support-agent"
#: Pod names as Kubernetes and Flagger make them: the primary (stable) and the canary Deployment's.
PODS = {HEALTHY: "support-agent-primary-5c6b7d9f8-abcde", FAULTY: "support-agent-7d9f8c6b5-x2k4q"}
FAULTS = {"AGENT_FAULT_ERROR_RATIO": "0.3", "AGENT_FAULT_LATENCY_MS": "3000", "AGENT_FAULT_LATENCY_RATIO": "0.3",
          "AGENT_REQUEST_TIMEOUT_MS": "10000"}


def release_spec() -> Spec:
    data = yaml.safe_load((ROOT / "agentwatch.yaml").read_text())
    for slo in data["slos"]:
        if "latency" in slo["sli"]:
            slo["sli"]["latency"]["threshold"] = 2.5
    data["releases"] = {"window": "10m", "regression": {"min_requests": 20, "for": "1m"},
                        "canary": {"window": "20s", "min_requests": 15}}
    return Spec.model_validate(data)


@dataclass
class Release:
    spec: Spec
    prometheus: PrometheusServer
    firing_seen: set[str]


def _config(targets: dict[str, int], rule_files: list[Path]) -> str:
    static = [{"targets": [f"127.0.0.1:{port}"], "labels": {"namespace": NAMESPACE, "pod": PODS[version]}}
              for version, port in targets.items()]
    return yaml.safe_dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                           "rule_files": [str(p) for p in rule_files],
                           "scrape_configs": [{"job_name": "agent", "static_configs": static}]})


def _firing_versions(prometheus: PrometheusServer) -> set[str]:
    alerts_now = prometheus.query(f'ALERTS{{alertname="{cv.VERSION_ALERT}",alertstate="firing"}}')
    return {a["metric"].get("version", "?") for a in alerts_now}


@pytest.fixture(scope="module")
def release(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    spec = release_spec()
    rules_dir = tmp_path_factory.mktemp("release-rules")
    rule_files = []
    for relpath, text in alerts.render(spec, time_scale=TIME_SCALE).items():
        data = yaml.safe_load(text)
        if isinstance(data, dict) and "groups" in data and "kind" not in data:
            rule_files.append(rules_dir / Path(relpath).name)
            rule_files[-1].write_text(text)
    env = {"REDIS_URL": redis_server.url}
    healthy = AgentProcess({**env, "AGENT_VERSION": HEALTHY})
    faulty = AgentProcess({**env, "AGENT_VERSION": FAULTY, **FAULTS})
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(2) as pool:
        stack.callback(healthy.close)
        stack.callback(faulty.close)
        # Model loads overlap; 1.0.0's process starts first, as the regression alert needs to see
        # the version whose processes started last as the newest.
        first = pool.submit(healthy.start)
        time.sleep(1.0)
        second = pool.submit(faulty.start)
        first.result(), second.result()
        prometheus = stack.enter_context(
            PrometheusServer(_config({HEALTHY: healthy.port, FAULTY: faulty.port}, rule_files)))
        # The support-queue customers, every turn on either version; no malformed requests.
        load = start_load([healthy.url, faulty.url], "steady", 90, users=12, think=(0.3, 1.0), seed=5,
                          out_dir=tmp_path_factory.mktemp("release-load"), probes=False, verify=False)
        started = time.monotonic()
        firing: set[str] = set()
        try:
            def fired() -> bool:
                firing.update(_firing_versions(prometheus))
                return FAULTY in firing
            wait_until(fired, 75, "the version-regression alert", interval=1)
            # Each measurement window must hold the canary analysis' min_requests.
            time.sleep(max(0.0, 22 - (time.monotonic() - started)))
            firing.update(_firing_versions(prometheus))
            yield Release(spec, prometheus, firing)
        finally:
            load.stop()
            with contextlib.suppress(LoadError):
                load.wait(60)


def test_the_version_regression_alert_fires_for_the_faulty_version_only(release: Release) -> None:
    assert release.firing_seen == {FAULTY}
    ever = release.prometheus.query(f'max_over_time(ALERTS{{alertname="{cv.VERSION_ALERT}",version="{HEALTHY}"}}[5m])')
    assert ever == [], "the healthy, older version never even went pending"


def test_the_by_version_recordings_tell_the_versions_apart(release: Release) -> None:
    name = cv.version_rule(cv.SLO_VERSION_ERROR_RATIO, release.spec.releases.window)
    ratios = {r["metric"]["version"]: float(r["value"][1])
              for r in release.prometheus.query(f'{name}{{{cv.LABEL_SLO}="messages-availability"}}')}
    assert ratios[HEALTHY] == 0 and 0.1 < ratios[FAULTY] < 0.6, ratios
    instances = release.prometheus.query(cv.VERSION_INSTANCES)
    assert {r["metric"]["version"]: float(r["value"][1]) for r in instances} == {HEALTHY: 1, FAULTY: 1}


_CONDITION = re.compile(r"len\(result\) == 1 && result\[0\] (>=|<) ([0-9.]+)")


def _holds(condition: str, result: list[float]) -> bool:
    """An Argo condition of the generated shape, evaluated as Argo's expr would."""
    match = _CONDITION.fullmatch(condition)
    assert match, f"not a condition shape this test understands: {condition}"
    op, threshold = match.group(1), float(match.group(2))
    return len(result) == 1 and (result[0] >= threshold if op == ">=" else result[0] < threshold)


def _argo_phase(metric: dict, result: list[float]) -> str:
    success, failure = _holds(metric["successCondition"], result), _holds(metric["failureCondition"], result)
    return "Failed" if failure else "Successful" if success else "Inconclusive"


def test_the_argo_analysis_fails_the_faulty_version_and_passes_the_healthy_one(release: Release) -> None:
    template = canary.analysis_template(release.spec)
    phases = {}
    for metric in template["spec"]["metrics"]:
        for version in (HEALTHY, FAULTY):
            query = metric["provider"]["prometheus"]["query"].replace("{{args.version}}", version)
            result = [float(r["value"][1]) for r in release.prometheus.query(query)]
            phases[metric["name"], version] = (_argo_phase(metric, result), result)
    slos = [slo.name for slo in release.spec.slos]
    assert {k: v[0] for k, v in phases.items()} == {
        **{(slo, HEALTHY): "Successful" for slo in slos}, **{(slo, FAULTY): "Failed" for slo in slos}}, phases


def test_the_flagger_analysis_fails_the_canary_pods_and_passes_the_primary_ones(release: Release) -> None:
    templates = canary.metric_templates(release.spec)
    checks = {m["name"]: m["thresholdRange"]["min"] for m in canary.canary(release.spec)["spec"]["analysis"]["metrics"]}
    window = release.spec.releases.canary.window
    verdicts = {}
    for name, template in templates.items():
        # Flagger fills {{ target }} with the canary Deployment; the primary's pods match "<target>-primary".
        for version, target in ((FAULTY, "support-agent"), (HEALTHY, "support-agent-primary")):
            query = (template["spec"]["query"].replace("{{ namespace }}", NAMESPACE)
                     .replace("{{ target }}", target).replace("{{ interval }}", window))
            values = [float(r["value"][1]) for r in release.prometheus.query(query)]
            assert len(values) == 1, (name, version, values)
            verdicts[name, version] = values[0] >= checks[name]
    assert verdicts == {**{(n, HEALTHY): True for n in templates}, **{(n, FAULTY): False for n in templates}}
