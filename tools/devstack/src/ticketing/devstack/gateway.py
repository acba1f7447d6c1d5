"""The dev gateway: one port, paths routed to services exactly as the Kubernetes Ingress does.

A plain reverse proxy over httpx. It keeps every response header (several ``Set-Cookie``
included), adds ``X-Forwarded-*``, and answers in the contract error shape when a service
is down.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from ticketing.devstack.routes import Route, load_routes, route_for

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


def create_gateway(upstreams: dict[str, str], routes: list[Route] | None = None) -> Starlette:
    table = routes or load_routes()
    client = httpx.AsyncClient(timeout=30, follow_redirects=False)

    async def proxy(request: Request) -> Response:
        route = route_for(request.url.path, table)
        if route is None or route.service not in upstreams:
            return JSONResponse({"errors": [{"message": "Not found"}]}, status_code=404)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        headers += [
            ("x-forwarded-for", request.client.host if request.client else ""),
            ("x-forwarded-host", request.headers.get("host", "")),
            ("x-forwarded-proto", request.url.scheme),
        ]
        url = upstreams[route.service] + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        try:
            upstream = await client.request(
                request.method, url, headers=headers, content=await request.body()
            )
        except httpx.TransportError:
            message = f"The {route.service} service is not reachable"
            return JSONResponse({"errors": [{"message": message}]}, status_code=502)
        response = Response(content=upstream.content, status_code=upstream.status_code)
        for key, value in upstream.headers.multi_items():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-encoding":
                response.headers.append(key, value)
        return response

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(
        routes=[StarletteRoute("/{path:path}", proxy, methods=methods)], lifespan=lifespan
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m ticketing.devstack.gateway")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    upstreams: dict[str, str] = json.loads(os.environ["DEVSTACK_UPSTREAMS"])
    uvicorn.run(create_gateway(upstreams), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
