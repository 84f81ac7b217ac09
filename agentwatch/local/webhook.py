"""The one Alertmanager webhook receiver: every received alert becomes one JSON line.

The compose stack runs it as the ``alert-webhook`` service; each receiver posts to its own path
(``/alerts/page``, ``/alerts/ticket``, ``/alerts/default``), so ``docker compose logs alert-webhook``
shows which alert went where. ``GET /healthz`` answers 200 for the container health check. ``make
demo`` runs it in-process (``WebhookReceiver``) and prints each delivery.

Hand-written on ``http.server``: it must run as a container command with nothing but agentwatch
installed, and no maintained package serves Alertmanager's webhook payload (tests use
pytest-httpserver instead).

Usage::

    python -m agentwatch.local.webhook --host 0.0.0.0 --port 9094
    with WebhookReceiver(on_alert=print) as inbox: ...     # inbox.url, inbox.received
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO

__all__ = ["MAX_BODY_BYTES", "WebhookReceiver", "alert_lines", "main", "make_server"]

MAX_BODY_BYTES = 1 << 20
#: Alert fields kept in the log line (Alertmanager webhook payload, version 4).
_FIELDS = ("status", "labels", "annotations", "startsAt", "endsAt", "fingerprint")


def alert_lines(path: str, payload: dict) -> list[str]:
    """One JSON line per alert of a webhook ``payload`` posted to ``path``."""
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise ValueError("body has no 'alerts' list (expected an Alertmanager webhook payload)")
    receiver = payload.get("receiver")
    return [json.dumps({"path": path, "receiver": receiver, **{k: a.get(k) for k in _FIELDS}}, sort_keys=True)
            for a in alerts if isinstance(a, dict)]


def make_server(host: str, port: int, out: TextIO = sys.stdout,
                on_alert: Callable[[str, dict], None] | None = None) -> ThreadingHTTPServer:
    """An HTTP server logging alerts to ``out`` (and passing each ``(path, alert)`` to ``on_alert``);
    call ``serve_forever()`` on it."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._reply(200, {"status": "ok"})
            else:
                self._reply(404, {"error": "not_found", "message": "only GET /healthz and POST of alerts"})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                self._reply(413, {"error": "payload_too_large", "message": f"limit is {MAX_BODY_BYTES} bytes"})
                return
            try:
                payload = json.loads(self.rfile.read(length) or b"null")
                lines = alert_lines(self.path, payload)
            except (ValueError, AttributeError) as exc:
                self._reply(400, {"error": "bad_request", "message": str(exc)})
                return
            with lock:
                for line in lines:
                    out.write(line + "\n")
                out.flush()
                for alert in payload["alerts"]:
                    if on_alert is not None and isinstance(alert, dict):
                        on_alert(self.path, alert)
            self._reply(200, {"received": len(lines)})

        def log_message(self, *args: object) -> None:  # the alert lines are the log
            pass

    return ThreadingHTTPServer((host, port), Handler)


class WebhookReceiver:
    """The receiver on a free loopback port in a background thread; ``received`` keeps
    ``(path, alert)`` pairs in arrival order."""

    def __init__(self, on_alert: Callable[[str, dict], None] | None = None, out: TextIO | None = None) -> None:
        self.received: list[tuple[str, dict]] = []
        self._on_alert = on_alert

        def record(path: str, alert: dict) -> None:
            self.received.append((path, alert))
            if self._on_alert is not None:
                self._on_alert(path, alert)

        self.server = make_server("127.0.0.1", 0, out or open(os.devnull, "w"), record)  # noqa: SIM115
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agentwatch.local.webhook", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9094, help="port (default 9094)")
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port)
    print(json.dumps({"listening": f"{args.host}:{args.port}"}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
