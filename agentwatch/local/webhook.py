"""A tiny Alertmanager webhook receiver: every received alert becomes one JSON line on stdout.

The compose stack runs it as the ``alert-webhook`` service; each receiver posts to its own path
(``/alerts/page``, ``/alerts/ticket``, ``/alerts/default``), so ``docker compose logs alert-webhook``
shows which alert went where. ``GET /healthz`` answers 200 for the container health check.

Usage::

    python -m agentwatch.local.webhook --host 0.0.0.0 --port 9094
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO

__all__ = ["MAX_BODY_BYTES", "alert_lines", "main", "make_server"]

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


def make_server(host: str, port: int, out: TextIO = sys.stdout) -> ThreadingHTTPServer:
    """An HTTP server logging alerts to ``out``; call ``serve_forever()`` on it."""
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
                lines = alert_lines(self.path, json.loads(self.rfile.read(length) or b"null"))
            except (ValueError, AttributeError) as exc:
                self._reply(400, {"error": "bad_request", "message": str(exc)})
                return
            with lock:
                for line in lines:
                    out.write(line + "\n")
                out.flush()
            self._reply(200, {"received": len(lines)})

        def log_message(self, *args: object) -> None:  # the alert lines are the log
            pass

    return ThreadingHTTPServer((host, port), Handler)


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
