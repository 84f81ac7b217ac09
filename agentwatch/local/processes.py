"""Start real local services on free loopback ports: redis-server, Prometheus, Alertmanager.

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
    """``redis-server`` on a free port, no persistence. ``stop()``/``start()`` keep the port."""

    name = "redis"

    def __init__(self, password: str | None = None) -> None:
        super().__init__()
        self.password = password

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        cmd = [_binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        if self.password:
            cmd += ["--requirepass", self.password]
        return cmd

    def ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
            if self.password:
                sock.sendall(f"AUTH {self.password}\r\n".encode())
                sock.recv(64)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")


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
    """

    name = "agent"
    start_timeout = 120.0  # model load and warm-up, on a busy machine

    def __init__(self, env: dict[str, str] | None = None, ready_path: str = "/readyz",
                 port: int | None = None) -> None:
        super().__init__()
        if port is not None:  # e.g. a restart behind the same scrape target
            self.port = port
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
        self.ready_path = ready_path

    def command(self) -> list[str]:
        return [sys.executable, "-m", "agentwatch", "serve", "--host", "127.0.0.1",
                "--port", str(self.port)]
