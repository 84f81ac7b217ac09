"""Start real local services on free loopback ports: redis-server (alone or as a cluster),
Prometheus, Alertmanager, the agent.

Used by the tests, the benchmarks and ``make demo``; nothing here is a fake. Each service is a
context manager that starts the Debian binary in a private temporary directory and stops it on
exit::

    with RedisServer() as redis:
        client = redis_py.Redis.from_url(redis.url)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import yaml

from agentwatch.prometheus_api import PrometheusAPI

__all__ = [
    "AgentProcess",
    "AlertmanagerServer",
    "HttpProcess",
    "ManagedProcess",
    "PrometheusServer",
    "RedisCluster",
    "RedisServer",
    "ServiceError",
    "free_port",
    "prometheus_config",
    "wait_until",
]


class ServiceError(RuntimeError):
    """A local service binary is missing or did not become ready."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``check`` until it returns true; raise ``ServiceError`` naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except ServiceError:
            raise  # the service died: say so now, with its output, instead of waiting out the timeout
        except Exception:  # not up yet
            pass
        time.sleep(interval)
    raise ServiceError(f"timed out after {timeout:.0f}s waiting for {what}")


def _binary(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise ServiceError(
        f"none of {names} is on PATH; install the Debian packages with `make deps` "
        "(redis-server, prometheus, prometheus-alertmanager)"
    )


class ManagedProcess:
    """A child process in its own temporary directory, stopped (and the directory removed) on exit."""

    name = "process"
    #: Seconds ``start()`` waits for ``ready()`` by default.
    start_timeout = 30.0

    def __init__(self) -> None:
        self.env: dict[str, str] | None = None  # None: inherit this process's environment
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"agentwatch-{self.name}-"))
        self.log_path = self.workdir / "output.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float | None = None) -> Self:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command(), cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, env=self.env,
            start_new_session=True,
        )
        try:
            wait_until(lambda: self._alive() and self.ready(), timeout or self.start_timeout,
                       f"{self.name} on port {self.port}")
        except ServiceError as exc:
            self.stop()
            raise ServiceError(f"{exc}; its output:\n{self.output()}") from None
        return self

    def _alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise ServiceError(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")
        return True

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class RedisServer(ManagedProcess):
    """``redis-server`` on a free port. ``stop()``/``kill()`` then ``start()`` keep port and directory.

    Persistence is what the agent's README promises: an append-only file fsynced every second
    (``appendfsync="everysec"``; ``"always"`` fsyncs before each reply, ``None`` keeps nothing).
    The AOF is written to the kernel before the reply is sent, so a ``kill -9`` of redis-server
    loses no acknowledged write; only a crash of the machine can lose up to the last second or so.
    """

    name = "redis"

    def __init__(self, password: str | None = None, appendfsync: str | None = "everysec",
                 extra_args: Sequence[str] = ()) -> None:
        super().__init__()
        if appendfsync not in (None, "everysec", "always", "no"):
            raise ValueError(f"appendfsync must be everysec, always, no or None, got {appendfsync!r}")
        self.password, self.appendfsync, self.extra_args = password, appendfsync, list(extra_args)

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        cmd = [_binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
               "--save", "", "--dir", str(self.workdir)]
        if self.appendfsync:
            cmd += ["--appendonly", "yes", "--appendfsync", self.appendfsync]
        else:
            cmd += ["--appendonly", "no"]
        if self.password:
            cmd += ["--requirepass", self.password]
        return cmd + self.extra_args

    def ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
            if self.password:
                sock.sendall(f"AUTH {self.password}\r\n".encode())
                sock.recv(64)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    def cli(self, *args: str, timeout: float = 5.0) -> str:
        """Run ``redis-cli`` against this server; its stdout, stripped (raises on failure)."""
        auth = ["--no-auth-warning", "-a", self.password] if self.password else []
        result = subprocess.run([_binary("redis-cli"), "-h", "127.0.0.1", "-p", str(self.port), *auth, *args],
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise ServiceError(f"redis-cli {' '.join(args)} on port {self.port} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def info(self, section: str = "") -> dict[str, str]:
        """``INFO [section]`` as a dict of strings."""
        lines = self.cli("INFO", *([section] if section else [])).splitlines()
        return dict(line.split(":", 1) for line in lines if ":" in line and not line.startswith("#"))

    def kill(self) -> None:
        """``kill -9``: no shutdown, no final fsync — what a crash or the OOM killer does."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


class RedisCluster:
    """A real Redis Cluster on loopback: ``primaries * (1 + replicas)`` redis-server processes,
    joined by ``redis-cli --cluster create``. ``url`` is the agent's ``REDIS_URL`` for it.

    ``node_timeout_ms`` is ``cluster-node-timeout``: how long a primary must be unreachable before
    its replica is promoted. Usage::

        with RedisCluster() as cluster:
            primary = cluster.primary_for("aw:{conv-1}:turns")
            primary.kill()
            cluster.wait_for_failover(primary)
    """

    def __init__(self, primaries: int = 3, replicas: int = 1, node_timeout_ms: int = 1000,
                 appendfsync: str | None = "everysec") -> None:
        self.primary_count, self.replicas = primaries, replicas
        # cluster-require-full-coverage no: while one shard fails over, the others keep serving
        # (the default, yes, refuses every command on every node until the slot is covered again).
        options = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                   "--cluster-node-timeout", str(node_timeout_ms), "--repl-diskless-sync-delay", "0",
                   "--cluster-require-full-coverage", "no"]
        # The bus port defaults to port + 10000, which may be taken or above 65535: pick one.
        self.nodes = [RedisServer(appendfsync=appendfsync, extra_args=[*options, "--cluster-port", str(free_port())])
                      for _ in range(primaries * (1 + replicas))]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self, timeout: float = 60.0) -> Self:
        try:
            for node in self.nodes:
                node.start()
            subprocess.run([_binary("redis-cli"), "--cluster", "create",
                            *[f"127.0.0.1:{n.port}" for n in self.nodes],
                            "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                           capture_output=True, text=True, timeout=timeout, check=True)
            wait_until(self.healthy, timeout, "the Redis Cluster to report cluster_state:ok on every node")
        except (ServiceError, subprocess.SubprocessError) as exc:
            self.close()
            raise ServiceError(f"Redis Cluster did not start: {exc}") from None
        return self

    def alive(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def healthy(self) -> bool:
        """Every live node sees all slots served, as many primaries as were created, and every live
        replica is in sync with its primary (a replica that never synced cannot take over)."""
        return all("cluster_state:ok" in n.cli("CLUSTER", "INFO") for n in self.alive()) and \
            len(self.primaries()) == self.primary_count and \
            all(n.info("replication").get("master_link_status", "up") == "up" for n in self.alive())

    def topology(self) -> list[dict[str, str]]:
        """``CLUSTER NODES`` as seen by the first live node: port, role and node id of each."""
        out = []
        for line in self.alive()[0].cli("CLUSTER", "NODES").splitlines():
            node_id, address, flags = line.split()[:3]
            port = address.split("@")[0].rsplit(":", 1)[1]
            role = "primary" if "master" in flags else "replica"
            out.append({"id": node_id, "port": port, "role": role,
                        "failed": str("fail" in flags and "fail?" not in flags)})
        return out

    def primaries(self) -> list[RedisServer]:
        """The live nodes that currently serve slots as primaries."""
        ports = {int(t["port"]) for t in self.topology() if t["role"] == "primary" and t["failed"] == "False"}
        return [n for n in self.alive() if n.port in ports]

    def primary_for(self, key: str) -> RedisServer:
        """The live primary that serves ``key``'s slot now."""
        slot = int(self.alive()[0].cli("CLUSTER", "KEYSLOT", key))
        for node in self.primaries():
            if self._serves(node, slot):
                return node
        raise ServiceError(f"no live primary serves slot {slot}")

    @staticmethod
    def _serves(node: RedisServer, slot: int) -> bool:
        myself = next(line for line in node.cli("CLUSTER", "NODES").splitlines() if "myself" in line)
        for part in myself.split()[8:]:
            low, _, high = part.partition("-")
            if low.isdigit() and int(low) <= slot <= int(high or low):
                return True
        return False

    def wait_for_failover(self, dead: RedisServer, timeout: float = 30.0) -> float:
        """Wait until a replica took over ``dead``'s slots and the cluster is ok; seconds waited."""
        start = time.monotonic()
        wait_until(lambda: dead not in self.alive() and self.healthy(), timeout,
                   f"a replica to take over from the primary on port {dead.port}", interval=0.1)
        return time.monotonic() - start

    def close(self) -> None:
        for node in self.nodes:
            node.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def prometheus_config(targets: Sequence[str], rule_files: Sequence[str | Path] = (),
                      alertmanager: str | None = None, interval: str = "1s", job: str = "agent") -> str:
    """A Prometheus config scraping ``targets`` as one job, loading ``rule_files`` and (optionally)
    sending alerts to the Alertmanager at ``host:port``. Short intervals: local runs and tests."""
    config: dict = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}],
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return yaml.safe_dump(config, sort_keys=False)


class PrometheusServer(ManagedProcess):
    """A real Prometheus with the given config text (``rule_files`` paths may be absolute)."""

    name = "prometheus"

    def __init__(self, config: str, extra_args: list[str] | None = None) -> None:
        super().__init__()
        self.config_path = self.workdir / "prometheus.yml"
        self.config_path.write_text(config)
        self.extra_args = extra_args or []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [_binary("prometheus"), f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle", "--log.level=warn", *self.extra_args]

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
            return response.status == 200

    @property
    def api(self) -> PrometheusAPI:
        """The HTTP API client for this server."""
        return PrometheusAPI(self.url)

    def query(self, promql: str, at: float | None = None) -> list[dict]:
        """Instant query; returns the result vector (raises ``PrometheusError`` on an error)."""
        return self.api.query(promql, at)

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[dict]:
        return self.api.query_range(promql, start, end, step)

    def reload(self) -> None:
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        urllib.request.urlopen(request, timeout=10).close()


class AlertmanagerServer(ManagedProcess):
    """A real Alertmanager (Debian ``prometheus-alertmanager``) with the given config text."""

    name = "alertmanager"

    def __init__(self, config: str) -> None:
        super().__init__()
        self.cluster_port = free_port()
        self.config_path = self.workdir / "alertmanager.yml"
        self.config_path.write_text(config)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [_binary("prometheus-alertmanager", "alertmanager"),
                f"--config.file={self.config_path}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--cluster.listen-address=127.0.0.1:{self.cluster_port}",
                "--log.level=warn"]

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
            return response.status == 200



class HttpProcess(ManagedProcess):
    """A process serving HTTP on ``self.port``; ready when ``ready_path`` answers 200."""

    ready_path = "/healthz"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}{self.ready_path}", timeout=1) as response:
            return response.status == 200


class AgentProcess(HttpProcess):
    """The reference agent (``agentwatch serve``) as a real process on a free port.

    ``env`` is added to the current environment (e.g. ``REDIS_URL``, fault-injection switches).
    No drain delay unless ``env`` sets ``AGENT_DRAIN_SECONDS``: nothing routes to a local process,
    so waiting for a load balancer to notice would only slow every stop.
    """

    name = "agent"
    start_timeout = 120.0  # model load and warm-up, on a busy machine

    def __init__(self, env: dict[str, str] | None = None, ready_path: str = "/readyz",
                 port: int | None = None) -> None:
        super().__init__()
        if port is not None:  # e.g. a restart behind the same scrape target
            self.port = port
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "AGENT_DRAIN_SECONDS": "0",
                    **(env or {})}
        self.ready_path = ready_path

    @property
    def admin_url(self) -> str:
        """Where the probes and /metrics are: ``AGENT_ADMIN_PORT`` when ``env`` sets it, else ``url``."""
        admin = (self.env or {}).get("AGENT_ADMIN_PORT", "0")
        return f"http://127.0.0.1:{admin}" if admin not in ("", "0") else self.url

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.admin_url}{self.ready_path}", timeout=1) as response:
            return response.status == 200

    def command(self) -> list[str]:
        return [sys.executable, "-m", "agentwatch", "serve", "--host", "127.0.0.1",
                "--port", str(self.port)]
