"""A tiny Service for the autoscaling lab: one address, requests round-robin over ready endpoints.

Kubernetes sends a Service's traffic only to pods whose readiness probe passes; the lab's
controller plays kubelet and endpoints controller and tells this router the ready set with
``PUT /-/endpoints`` (``{"endpoints": ["http://127.0.0.1:8001", ...]}``). Hand-written because no
declared dependency is a reverse proxy whose upstream set changes at run time (nginx, HAProxy or
Envoy are not installed here and would need a config reload per change); it is a Starlette app
forwarding with one pooled httpx client, nothing more. Like a ClusterIP Service it never retries:
a request that fails reaches the client as it failed. With no ready endpoint it answers 503.

Usage::

    python -m agentwatch.autoscaling.router --port 8080
    curl -X PUT localhost:8080/-/endpoints -d '{"endpoints": ["http://127.0.0.1:8001"]}'
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["ENDPOINTS_PATH", "create_router_app", "main"]

ENDPOINTS_PATH = "/-/endpoints"
HEALTH_PATH = "/-/healthy"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length",
               "host"}


class _State:
    def __init__(self) -> None:
        self.endpoints: list[str] = []
        self.cycle: Any = iter(())
        self.client: httpx.AsyncClient | None = None

    def set(self, endpoints: list[str]) -> None:
        self.endpoints = list(endpoints)
        self.cycle = itertools.cycle(self.endpoints) if self.endpoints else iter(())

    def pick(self) -> str | None:
        return next(self.cycle, None)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"class": "service_unavailable", "message": message}}, status_code=status)


def create_router_app() -> Starlette:
    state = _State()

    async def endpoints(request: Request) -> Response:
        if request.method == "PUT":
            try:
                body = await request.json()
                urls = [str(u).rstrip("/") for u in body["endpoints"]]
            except (ValueError, KeyError, TypeError):
                return JSONResponse({"error": {"class": "bad_request", "message":
                                               'body must be {"endpoints": ["http://host:port", ...]}'}},
                                    status_code=400)
            state.set(urls)
        return JSONResponse({"endpoints": state.endpoints})

    async def healthy(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def forward(request: Request) -> Response:
        target = state.pick()
        if target is None:
            return _error(503, "the service has no ready endpoint")
        assert state.client is not None
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        try:
            upstream = await state.client.request(request.method, target + request.url.path,
                                                  params=request.query_params, content=await request.body(),
                                                  headers=headers)
        except httpx.HTTPError as exc:  # the endpoint went away mid-request, as a TCP reset would
            return _error(502, f"endpoint {target} failed: {type(exc).__name__}")
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
        return Response(upstream.content, status_code=upstream.status_code, headers=out_headers)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=512, max_keepalive_connections=128)
        async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
            state.client = client
            yield

    routes = [Route(ENDPOINTS_PATH, endpoints, methods=["GET", "PUT"]), Route(HEALTH_PATH, healthy),
              Route("/{path:path}", forward, methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])]
    return Starlette(routes=routes, lifespan=lifespan)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m agentwatch.autoscaling.router", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(create_router_app(), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
