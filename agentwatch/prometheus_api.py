"""The one Prometheus HTTP API client of agentwatch (dashboard renders, hpa-sim, recommend, the lab,
the live tests).

Hand-written on the standard library: the few read-only endpoints used here are plain GETs returning
``{"status", "data"}``, and the maintained Python clients (``prometheus-api-client``) pull in pandas
and matplotlib for what is twenty lines.

Usage::

    api = PrometheusAPI("http://127.0.0.1:9090")
    api.query('sum(rate(agent_requests_total[5m]))')          # result vector
    api.query_range("up", start, end, step=15)                 # result matrix
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["PrometheusAPI", "PrometheusError"]


class PrometheusError(RuntimeError):
    """Prometheus answered with an error, or could not be reached."""


class PrometheusAPI:
    """Read-only calls to a Prometheus server's ``/api/v1``."""

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str, params: list[tuple[str, str]] | None = None) -> Any:
        """GET ``path`` and return its ``data``; raise ``PrometheusError`` on an error answer."""
        url = f"{self.url}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read() or b"{}")
            except json.JSONDecodeError:
                body = {"error": f"HTTP {exc.code}"}
        except (OSError, json.JSONDecodeError) as exc:
            raise PrometheusError(f"cannot reach Prometheus at {self.url}: {exc}") from exc
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus rejected {path} {params or ''}: {body.get('error', body)}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        """Instant query at ``at`` (default: now); the result vector."""
        params = [("query", expr)] + ([("time", str(at))] if at is not None else [])
        return self.get("/api/v1/query", params)["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        """Range query; the result matrix."""
        return self.get("/api/v1/query_range", [("query", expr), ("start", str(start)), ("end", str(end)),
                                                ("step", str(step))])["result"]

    def series(self, match: str, start: float, end: float) -> list[dict]:
        return self.get("/api/v1/series", [("match[]", match), ("start", str(start)), ("end", str(end))])

    def exemplars(self, expr: str, start: float, end: float | None = None) -> list[dict]:
        end = time.time() if end is None else end
        return self.get("/api/v1/query_exemplars", [("query", expr), ("start", str(start)), ("end", str(end))])

    def rules(self) -> list[dict]:
        """Rule groups as Prometheus evaluates them (with ``evaluationTime`` and health)."""
        return self.get("/api/v1/rules")["groups"]

    def alerts(self) -> list[dict]:
        return self.get("/api/v1/alerts")["alerts"]

    def targets(self) -> list[dict]:
        return self.get("/api/v1/targets")["activeTargets"]
