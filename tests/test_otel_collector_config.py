"""The OTel Collector config (otel-collector/generated/config.yaml), checked without the Collector binary.

No otelcol-contrib runs here, so these checks encode what was verified in the component sources
(each component's metadata.yaml ``type``, README required keys, the contrib 0.159.0 manifest):
every component is known and current, declared ones are used, used ones are declared, a
connector joins a pipeline of its exporter-side signal to one of its receiver-side signal,
memory_limiter comes first and batch last, and every endpoint names a compose service the
Collector can reach. The checker knows more components than the config uses (connectors, tail
sampling) so a config that adds them back is checked too.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from agentwatch.otel_collector import COLLECTOR_CONFIG
from agentwatch.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose" / "docker-compose.yaml"

# Current type names (metadata.yaml `type:`), with the pipeline signals each supports.
KNOWN = {
    "receivers": {"otlp": {"traces", "metrics", "logs"}},
    "processors": {"memory_limiter": {"traces", "metrics", "logs"}, "batch": {"traces", "metrics", "logs"},
                   "tail_sampling": {"traces"}, "resource": {"traces", "metrics", "logs"}},
    "exporters": {"otlp_grpc": {"traces", "metrics", "logs"}, "otlp_http": {"traces", "metrics", "logs"},
                  "prometheus": {"metrics"}, "debug": {"traces", "metrics", "logs"}},
    "extensions": {"health_check": set()},
}
#: Connector type -> (exporter-side signal, receiver-side signal).
CONNECTORS = {"span_metrics": ("traces", "metrics"), "forward": ("traces", "traces")}
#: Deprecated aliases that still load with a warning: the config must use the current names.
DEPRECATED = {"spanmetrics": "span_metrics", "otlphttp": "otlp_http"}
TAIL_POLICIES = {"always_sample", "latency", "numeric_attribute", "probabilistic", "status_code",
                 "string_attribute", "trace_state", "trace_flags", "rate_limiting", "bytes_limiting",
                 "span_count", "boolean_attribute", "ottl_condition", "and", "drop", "composite"}


def _type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def problems(config: dict, services: dict) -> list[str]:
    """Every structural problem of a Collector config, given the compose services (name -> dict)."""
    out: list[str] = []
    service = config.get("service") or {}
    pipelines = service.get("pipelines") or {}
    declared = {kind: set((config.get(kind) or {}).keys()) for kind in (*KNOWN, "connectors")}
    for kind, ids in declared.items():
        for cid in ids:
            t = _type(cid)
            if t in DEPRECATED:
                out.append(f"{kind}.{cid}: deprecated type name, use {DEPRECATED[t]}")
            elif t not in (CONNECTORS if kind == "connectors" else KNOWN[kind]):
                out.append(f"{kind}.{cid}: unknown component type {t!r}")
    if "otlp" in {_type(e) for e in declared["exporters"]}:
        out.append("exporters: 'otlp' is the deprecated alias of otlp_grpc")
    used = {kind: set() for kind in declared}
    for name, pipe in pipelines.items():
        signal = _type(name)
        if signal not in ("traces", "metrics", "logs"):
            out.append(f"pipeline {name}: unknown signal {signal!r}")
        for role in ("receivers", "exporters"):
            if not pipe.get(role):
                out.append(f"pipeline {name}: no {role}")
        for role in ("receivers", "processors", "exporters"):
            for cid in pipe.get(role) or []:
                if cid in declared["connectors"]:
                    used["connectors"].add(cid)
                    side = CONNECTORS.get(_type(cid), ("?", "?"))[0 if role == "exporters" else 1]
                    if role == "processors" or side != signal:
                        out.append(f"pipeline {name}: connector {cid} cannot be a {role[:-1]} of {signal}")
                elif cid not in declared[role]:
                    out.append(f"pipeline {name}: {role[:-1]} {cid} is not declared")
                else:
                    used[role].add(cid)
                    signals = KNOWN[role].get(_type(cid), set())
                    if signals and signal not in signals:
                        out.append(f"pipeline {name}: {cid} does not support {signal}")
        procs = pipe.get("processors") or []
        if procs and _type(procs[0]) != "memory_limiter":
            out.append(f"pipeline {name}: memory_limiter must be the first processor")
        batches = [i for i, p in enumerate(procs) if _type(p) == "batch"]
        if batches and batches[-1] != len(procs) - 1:
            out.append(f"pipeline {name}: batch must be the last processor")
        if any(_type(p) == "tail_sampling" for p in procs) and not batches:
            out.append(f"pipeline {name}: tail sampling without a batch after it")
    for cid in declared["connectors"]:
        sides = [(_type(n), role) for n, p in pipelines.items() for role in ("receivers", "exporters")
                 if cid in (p.get(role) or [])]
        if {role for _, role in sides} != {"receivers", "exporters"}:
            out.append(f"connectors.{cid}: must be an exporter of one pipeline and a receiver of another")
    used["extensions"] = set(service.get("extensions") or [])
    for kind in declared:
        for cid in sorted(declared[kind] - used[kind]):
            out.append(f"{kind}.{cid}: declared but not used")
        for cid in sorted(used[kind] - declared[kind]):
            out.append(f"{kind}.{cid}: used but not declared")
    out += _required_keys(config)
    out += _endpoints(config, services)
    return out


def _required_keys(config: dict) -> list[str]:
    out = []
    for cid, body in (config.get("processors") or {}).items():
        body = body or {}
        if _type(cid) == "memory_limiter" and (not body.get("check_interval")
                                               or not (body.get("limit_mib") or body.get("limit_percentage"))):
            out.append(f"processors.{cid}: check_interval and limit_mib/limit_percentage are required")
        if _type(cid) == "tail_sampling":
            policies = body.get("policies") or []
            if not policies:
                out.append(f"processors.{cid}: policies are required")
            for policy in policies:
                ptype = policy.get("type")
                if not policy.get("name") or ptype not in TAIL_POLICIES:
                    out.append(f"processors.{cid}: policy {policy} needs a name and a known type")
                elif ptype != "always_sample" and ptype not in policy:
                    out.append(f"processors.{cid}: policy {policy['name']} lacks its {ptype!r} settings")
    for cid, body in (config.get("exporters") or {}).items():
        if _type(cid) in ("otlp_grpc", "otlp_http", "prometheus") and not (body or {}).get("endpoint"):
            out.append(f"exporters.{cid}: endpoint is required")
    return out


def _endpoints(config: dict, services: dict) -> list[str]:
    out = []
    mine = set(services["otel-collector"].get("networks") or [])
    for cid, body in (config.get("exporters") or {}).items():
        host = str((body or {}).get("endpoint", "")).split("://")[-1].rsplit(":", 1)[0]
        if _type(cid) in ("otlp_grpc", "otlp_http"):
            if host not in services:
                out.append(f"exporters.{cid}: {host!r} is not a compose service")
            elif not mine & set(services[host].get("networks") or []):
                out.append(f"exporters.{cid}: {host} shares no network with otel-collector")
    listeners = [("extensions.health_check", (config.get("extensions") or {}).get("health_check") or {})]
    listeners += [(f"receivers.otlp.{p}", b or {}) for p, b in
                  (((config.get("receivers") or {}).get("otlp") or {}).get("protocols") or {}).items()]
    listeners += [(f"exporters.{cid}", b or {}) for cid, b in (config.get("exporters") or {}).items()
                  if _type(cid) == "prometheus"]
    for where, body in listeners:
        if not str(body.get("endpoint", "")).startswith("0.0.0.0:"):
            out.append(f"{where}: must listen on 0.0.0.0 to be reachable from other containers")
    return out


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((ROOT / COLLECTOR_CONFIG).read_text())


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_the_committed_config_has_no_structural_problem(config: dict, services: dict) -> None:
    assert problems(config, services) == []


def _drop_processor(cfg: dict, name: str) -> None:
    del cfg["processors"][name]


def _swap(cfg: dict) -> None:
    procs = cfg["service"]["pipelines"]["traces"]["processors"]
    procs[0], procs[-1] = procs[-1], procs[0]


def _add_span_metrics(cfg: dict, name: str = "span_metrics", metrics_side: bool = True) -> None:
    """The span-metrics connector, fed by the traces pipeline (and read by a metrics pipeline)."""
    cfg.setdefault("connectors", {})[name] = {}
    cfg["service"]["pipelines"]["traces"]["exporters"].append(name)
    if metrics_side:
        cfg["exporters"]["prometheus"] = {"endpoint": "0.0.0.0:8889"}
        cfg["service"]["pipelines"]["metrics"] = {"receivers": [name], "exporters": ["prometheus"]}


def _add_tail_sampling(cfg: dict, policy: dict) -> None:
    cfg["processors"]["tail_sampling"] = {"policies": [policy]}
    cfg["service"]["pipelines"]["traces"]["processors"].insert(1, "tail_sampling")


def _rename(cfg: dict, kind: str, old: str, new: str) -> None:
    cfg[kind][new] = cfg[kind].pop(old)
    for pipe in cfg["service"]["pipelines"].values():
        for role in ("receivers", "exporters"):
            pipe[role] = [new if x == old else x for x in pipe.get(role) or []]


MUTATIONS = [
    ("a processor used but not declared", lambda cfg: _drop_processor(cfg, "batch"), "batch is not declared"),
    ("an unused exporter", lambda cfg: cfg["exporters"].update({"debug": {}}), "exporters.debug: declared but not"),
    ("batch first and memory_limiter last", _swap, "memory_limiter must be the first"),
    ("the deprecated spanmetrics name", lambda cfg: _add_span_metrics(cfg, "spanmetrics"),
     "deprecated type name, use span_metrics"),
    ("the deprecated otlp exporter name", lambda cfg: _rename(cfg, "exporters", "otlp_grpc/jaeger", "otlp/jaeger"),
     "deprecated alias of otlp_grpc"),
    ("a connector only on the traces side", lambda cfg: _add_span_metrics(cfg, metrics_side=False),
     "span_metrics: must be an exporter"),
    ("an exporter aimed at a missing service",
     lambda cfg: cfg["exporters"]["otlp_grpc/jaeger"].update({"endpoint": "tempo:4317"}), "'tempo' is not a compose"),
    ("a receiver bound to localhost",
     lambda cfg: cfg["receivers"]["otlp"]["protocols"]["grpc"].update({"endpoint": "localhost:4317"}),
     "receivers.otlp.grpc: must listen on 0.0.0.0"),
    ("a tail-sampling policy without settings",
     lambda cfg: _add_tail_sampling(cfg, {"name": "errors", "type": "status_code"}), "lacks its 'status_code'"),
]


@pytest.mark.parametrize(("mutate", "expected"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_the_checker_rejects_a_broken_config(config: dict, services: dict, mutate, expected: str) -> None:
    broken = copy.deepcopy(config)
    mutate(broken)
    found = problems(broken, services)
    assert any(expected in p for p in found), found


def test_the_collector_keeps_every_span_the_agents_chose_to_keep(config: dict) -> None:
    """The agents tail-sample (agentwatch.telemetry.sampling); a second sampler could only drop
    traces whose exemplars are on the dashboards, and span metrics from kept traces would be biased."""
    processors = {_type(p) for pipe in config["service"]["pipelines"].values() for p in pipe.get("processors") or []}
    assert "tail_sampling" not in processors and "probabilistic_sampler" not in processors
    assert not config.get("connectors")
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["otlp_grpc/jaeger"]


def test_the_agents_keep_every_trace_slower_than_the_strictest_latency_slo(services: dict) -> None:
    spec = load_spec(ROOT / "agentwatch.yaml")
    thresholds = [s.sli.latency.threshold for s in spec.slos if s.sli.latency]
    assert thresholds, "the spec has a latency SLO"
    assert spec.slow_request_seconds() == min(thresholds)
    for name in ("agent-a", "agent-b"):
        environment = services[name]["environment"]
        assert float(environment["AGENTWATCH_TRACES_SLOW_SECONDS"]) == spec.slow_request_seconds()
        assert 0 < float(environment["AGENTWATCH_TRACES_KEEP_RATIO"]) < 1
        assert "OTEL_TRACES_SAMPLER" not in environment, "head sampling would replace the agent's tail sampling"


def _mebibytes(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)\s*(MiB|M|G|GiB)", text).groups()
    return float(number) * (1024 if unit.startswith("G") else 1)


def test_memory_limits_nest_gomemlimit_under_memory_limiter_under_the_container(config: dict,
                                                                                services: dict) -> None:
    collector = services["otel-collector"]
    container = _mebibytes(collector["deploy"]["resources"]["limits"]["memory"])
    hard = config["processors"]["memory_limiter"]["limit_mib"]
    soft_go = _mebibytes(collector["environment"]["GOMEMLIMIT"])
    assert soft_go < hard < container


def test_prometheus_scrapes_the_ports_the_collector_listens_on(config: dict) -> None:
    prometheus = yaml.safe_load((ROOT / "compose" / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in prometheus["scrape_configs"] for sc in job.get("static_configs", [])
               for t in sc["targets"]}
    telemetry_port = config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]["port"]
    assert {t for t in targets if t.startswith("otel-collector:")} == {f"otel-collector:{telemetry_port}"}


def test_the_agents_send_otlp_http_to_the_collectors_http_receiver(config: dict, services: dict) -> None:
    http_port = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].rsplit(":", 1)[1]
    for name in ("agent-a", "agent-b"):
        assert services[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://otel-collector:{http_port}"
