"""compose/docker-compose.yaml and the files it mounts, checked by their real consumers where they
run here (check-jsonschema with the compose spec, promtool, amtool, docker compose if present) and
by cross-references otherwise (mounts exist, names resolve, networks connect, ports stay private).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from agentwatch.compose import ALERTMANAGER_CONFIG, RECEIVERS
from agentwatch.dashboards.export import GRAFANA_PROVISIONING_DIR
from agentwatch.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_DIR = ROOT / "compose"
COMPOSE = COMPOSE_DIR / "docker-compose.yaml"
ENV_FILE = COMPOSE_DIR / ".env"
UI_PORTS = {"grafana": 3000, "jaeger": 16686, "prometheus": 9090, "alertmanager": 9093, "agent-a": 8000}
VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?[-?][^}]*)?\}")


def env_file() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_FILE.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def interpolate(text: str) -> str:
    env = env_file()
    return VAR.sub(lambda m: env[m.group(1)], text)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(interpolate(COMPOSE.read_text()))


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def mounts(service: dict) -> list[tuple[Path, str]]:
    """(host path, container path) of every bind mount of a service."""
    out = []
    for volume in service.get("volumes") or []:
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):  # a named volume is no file of the repository
            out.append(((COMPOSE_DIR / source).resolve(), target))
    return out


def mount_source(service: dict, target: str) -> Path:
    return next(src for src, dst in mounts(service) if dst == target)


def shares_network(services: dict, a: str, b: str) -> bool:
    return bool(set(services[a].get("networks") or []) & set(services[b].get("networks") or []))


# --- the real validators -----------------------------------------------------------------------


def test_the_compose_file_matches_the_compose_specification_schema() -> None:
    result = subprocess.run([str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
                             "vendor.compose-spec", str(COMPOSE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True) if docker else None
    if probe is None or probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed here (docker client only); "
                    "the compose-spec JSON schema check stands in for it")
    result = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_promtool_accepts_prometheus_yml_laid_out_as_in_the_container(services: dict, tmp_path: Path) -> None:
    promtool = shutil.which("promtool") or pytest.fail("promtool is not installed (make deps)")
    for source, target in mounts(services["prometheus"]):
        dest = tmp_path / target.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, dest)
    config_flag = next(a for a in services["prometheus"]["command"] if a.startswith("--config.file="))
    config = tmp_path / config_flag.split("=", 1)[1].lstrip("/")
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    rules = yaml.safe_load(config.read_text())["rule_files"]
    found = [p for pattern in rules for p in config.parent.glob(pattern)]
    assert len(found) >= len(load_spec(ROOT / "agentwatch.yaml").slos) + 1, found
    assert "SUCCESS" in result.stdout and "rules found" in result.stdout


def test_amtool_accepts_the_compose_alertmanager_config(services: dict) -> None:
    amtool = shutil.which("amtool") or pytest.fail("amtool is not installed (make deps)")
    config = mount_source(services["alertmanager"], "/etc/alertmanager/alertmanager.yaml")
    result = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("labels", "receiver"), [
    (["severity=page", "slo=messages-latency"], "page"),
    (["severity=ticket", "slo=messages-latency"], "ticket"),
    (["severity=info"], "default"),
], ids=["a page goes to the page receiver", "a ticket goes to the ticket receiver",
        "anything else goes to default"])
def test_amtool_routes_each_severity_to_its_receiver(services: dict, labels: list[str], receiver: str) -> None:
    amtool = shutil.which("amtool") or pytest.fail("amtool is not installed (make deps)")
    config = mount_source(services["alertmanager"], "/etc/alertmanager/alertmanager.yaml")
    result = subprocess.run([amtool, "config", "routes", "test", f"--config.file={config}", *labels],
                            capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == receiver, result.stdout + result.stderr


# --- cross-references ---------------------------------------------------------------------------


def test_there_is_no_obsolete_version_key() -> None:
    assert "version" not in yaml.safe_load(COMPOSE.read_text())


def test_every_variable_is_defined_in_the_env_file_and_every_image_is_pinned(services: dict) -> None:
    missing = sorted(set(VAR.findall(COMPOSE.read_text())) - set(env_file()))
    assert missing == []
    for name, service in services.items():
        image = service["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert tag and tag != "latest", f"{name}: image {image} is not pinned"


def test_every_mounted_file_exists_in_the_repository(services: dict) -> None:
    for name, service in services.items():
        for source, _ in mounts(service):
            assert source.exists(), f"{name} mounts {source}, which does not exist"
            assert ROOT in source.parents, f"{name} mounts {source} from outside the repository"
        build = service.get("build")
        if build:
            assert (COMPOSE_DIR / build["context"] / build["dockerfile"]).is_file()


def test_every_dependency_exists_is_acyclic_and_healthy_ones_have_a_health_check(services: dict) -> None:
    for name, service in services.items():
        for dep, how in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            if how["condition"] == "service_healthy":
                check = services[dep].get("healthcheck") or {}
                assert check.get("test") and not check.get("disable"), \
                    f"{name} waits for {dep} to be healthy; it has no check"
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle: {' -> '.join((*path, name))}"
        for dep in services[name].get("depends_on") or {}:
            visit(dep, (*path, name))
        done.add(name)

    for name in services:
        visit(name, ())


def _urls(service: dict) -> list[str]:
    texts = [str(v) for v in (service.get("environment") or {}).values()]
    texts += [str(a) for a in service.get("command") or []]
    return [t for t in texts if re.match(r"^[a-z]+://", t)]


def _config_urls() -> list[tuple[str, str]]:
    """(service that dials, URL) from the mounted config files."""
    out = []
    prometheus = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    for job in prometheus["scrape_configs"]:
        out += [("prometheus", f"http://{t}") for sc in job["static_configs"] for t in sc["targets"]]
    out += [("prometheus", f"http://{t}") for am in prometheus["alerting"]["alertmanagers"]
            for sc in am["static_configs"] for t in sc["targets"]]
    alertmanager = yaml.safe_load((ROOT / ALERTMANAGER_CONFIG).read_text())
    out += [("alertmanager", w["url"]) for r in alertmanager["receivers"] for w in r["webhook_configs"]]
    datasources = yaml.safe_load(
        (ROOT / GRAFANA_PROVISIONING_DIR / "datasources/agentwatch.yaml").read_text())
    out += [("grafana", d["url"]) for d in datasources["datasources"]]
    return out


def test_every_url_names_a_service_on_a_shared_network(services: dict) -> None:
    checked = 0
    dials = [(name, url) for name, s in services.items() for url in _urls(s)] + _config_urls()
    for caller, url in dials:
        host = urlsplit(url).hostname
        if host == "localhost":
            continue
        assert host in services, f"{caller} dials {url}: {host} is not a compose service"
        assert shares_network(services, caller, host), f"{caller} cannot reach {host}: no shared network"
        checked += 1
    assert checked >= 15, dials


def test_grafana_cannot_reach_redis(services: dict) -> None:
    assert not shares_network(services, "grafana", "redis")


def test_only_the_uis_publish_ports_and_only_on_loopback(services: dict) -> None:
    published = {}
    for name, service in services.items():
        for port in service.get("ports") or []:
            host_ip, host_port, container_port = str(port).split(":")
            assert host_ip == "127.0.0.1", f"{name} publishes {port} on every interface"
            assert host_port == container_port
            published[name] = int(container_port)
    assert published == UI_PORTS


def test_every_service_has_cpu_and_memory_limits_and_named_networks(compose: dict, services: dict) -> None:
    for name, service in services.items():
        limits = service["deploy"]["resources"]["limits"]
        assert limits.get("cpus") and limits.get("memory"), name
        assert service.get("networks"), f"{name} is on the default network"
    assert all(n.get("name") for n in compose["networks"].values())


def test_the_agents_are_two_named_replicas_on_one_redis_with_the_dashboards_trace_service(services: dict) -> None:
    spec = load_spec(ROOT / "agentwatch.yaml")
    agents = [n for n, s in services.items() if s.get("command", [])[:2] == ["agentwatch", "serve"]]
    assert agents == ["agent-a", "agent-b"]
    envs = [services[n]["environment"] for n in agents]
    assert len({e["REDIS_URL"] for e in envs}) == 1
    assert {e["OTEL_SERVICE_NAME"] for e in envs} == {spec.dashboards.trace_service}
    assert [e["OTEL_RESOURCE_ATTRIBUTES"] for e in envs] == [f"service.instance.id={n}" for n in agents]
    prometheus = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    agent_job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "agent")
    assert agent_job["static_configs"][0]["targets"] == [f"{n}:8000" for n in agents]


def test_prometheus_stores_exemplars_and_loads_the_rule_files_of_the_spec(services: dict) -> None:
    assert "--enable-feature=exemplar-storage" in services["prometheus"]["command"]
    rules = mount_source(services["prometheus"], "/etc/prometheus/rules")
    assert rules == (ROOT / "alerts" / "generated").resolve()


def test_grafana_mounts_match_the_provisioning_files(services: dict) -> None:
    grafana = services["grafana"]
    provisioning = mount_source(grafana, "/etc/grafana/provisioning")
    assert (provisioning / "datasources").is_dir() and (provisioning / "dashboards").is_dir()
    providers = yaml.safe_load((provisioning / "dashboards" / "agentwatch.yaml").read_text())["providers"]
    for provider in providers:
        source = mount_source(grafana, provider["options"]["path"])
        assert sorted(source.glob("*.json")), f"{source} holds no dashboards"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    folder, file = home.rsplit("/", 1)
    assert (mount_source(grafana, folder) / file).is_file()
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def test_alertmanager_receivers_post_to_the_webhook_logger_port(services: dict) -> None:
    command = services["alert-webhook"]["command"]
    port = int(command[command.index("--port") + 1])
    alertmanager = yaml.safe_load((ROOT / ALERTMANAGER_CONFIG).read_text())
    urls = {r["name"]: r["webhook_configs"][0]["url"] for r in alertmanager["receivers"]}
    assert urls == {name: f"http://alert-webhook:{port}/alerts/{name}" for name in RECEIVERS}


def test_the_generated_alertmanager_config_keeps_the_specs_routing() -> None:
    committed = yaml.safe_load((ROOT / ALERTMANAGER_CONFIG).read_text())
    original = yaml.safe_load((ROOT / "alerts" / "generated" / "alertmanager.yaml").read_text())
    assert committed["route"] == original["route"]
    assert committed["inhibit_rules"] == original["inhibit_rules"]
    assert [r["name"] for r in committed["receivers"]] == [r["name"] for r in original["receivers"]]


# --- the agent image ---------------------------------------------------------------------------


def test_the_dockerfile_builds_a_cpu_torch_non_root_offline_image_of_every_package() -> None:
    dockerfile = (COMPOSE_DIR / "agent.Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    torch_pin = next(d for d in pyproject["project"]["optional-dependencies"]["agent"] if d.startswith("torch=="))
    env = env_file()
    assert f"ARG TORCH_VERSION={env['TORCH_VERSION']}" in dockerfile and torch_pin == f"torch=={env['TORCH_VERSION']}"
    assert f"ARG PYTHON_IMAGE={env['PYTHON_IMAGE']}" in dockerfile and env["PYTHON_IMAGE"] == "python:3.11-slim"
    assert 'pip install "torch==${TORCH_VERSION}" --index-url https://download.pytorch.org/whl/cpu' in dockerfile
    assert 'pip install ".[agent,load]"' in dockerfile
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1] not in ("root", "0")
    assert "HF_HUB_OFFLINE=1" in dockerfile and "/readyz" in dockerfile.split("HEALTHCHECK", 1)[1]
    copied = {src for line in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M) for src in line.split()}
    needed = set(pyproject["tool"]["setuptools"]["package-dir"].values()) | {"pyproject.toml", "README.md"}
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"
    ignore = (COMPOSE_DIR / "agent.Dockerfile.dockerignore").read_text().splitlines()
    reincluded = {line[1:].split("/")[0] for line in ignore if line.startswith("!")}
    assert copied <= reincluded, f"excluded from the build context: {sorted(copied - reincluded)}"


def test_agent_image_services_that_serve_no_agent_replace_the_images_readyz_check(services: dict) -> None:
    others = [n for n, s in services.items() if s.get("build") and s["command"][:2] != ["agentwatch", "serve"]]
    assert sorted(others) == ["alert-webhook", "loadgen"]
    for name in others:
        check = services[name].get("healthcheck") or {}
        assert check.get("disable") or "8000/readyz" not in " ".join(check.get("test", [])), name
        assert check, f"{name} would inherit the image's /readyz check on a port it does not serve"


def test_the_agents_run_read_only_and_get_time_to_drain(services: dict) -> None:
    from agentwatch.agent.settings import AgentSettings

    defaults = AgentSettings()
    for name in ("agent-a", "agent-b"):
        agent = services[name]
        assert agent["read_only"] is True and agent["tmpfs"] == ["/tmp"], name
        grace = int(agent["stop_grace_period"].rstrip("s"))
        assert defaults.drain_seconds + defaults.shutdown_timeout_seconds < grace, name
    assert "HOME=/tmp" in (COMPOSE_DIR / "agent.Dockerfile").read_text()


def test_redis_keeps_what_it_acknowledged_on_a_volume_and_never_evicts(compose: dict, services: dict) -> None:
    command = services["redis"]["command"]

    def flag(name: str) -> str:
        return command[command.index(name) + 1]

    assert (flag("--appendonly"), flag("--appendfsync"), flag("--maxmemory-policy")) == ("yes", "everysec",
                                                                                         "noeviction")
    volume = next(v for v in services["redis"]["volumes"] if v.endswith(":/data"))
    assert volume.split(":")[0] in compose["volumes"]
