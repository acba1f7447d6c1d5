"""The dev gateway: one port, paths routed to services exactly as the Kubernetes Ingress does.

A plain reverse proxy over httpx that behaves like the Ingress' nginx where it matters:

- **no cookie jar**: each request carries the browser's own ``Cookie`` header and nothing else
  (a shared jar handed every visitor the last signed-up user's session);
- **paths normalised before routing**: dot-segments (``..``, ``%2e%2e``) and repeated slashes
  are resolved first, then the route is chosen and the normalised path forwarded, so no path
  reaches a service outside its prefix;
- hop-by-hop headers (and those the ``Connection`` header names) are not relayed; ``Date`` and
  ``Server`` are the gateway's own, not repeated from the service;
- the Ingress' 1 MiB body limit (413 in the contract shape, refused while reading);
- ``X-Request-ID`` accepted or created, sent to the service and returned.

Every ``Set-Cookie`` of a response is relayed. A service may have several replicas
(``TICKETING_REPLICAS``): requests go to them in turn, and one that refuses the connection is
skipped for the next (the request never reached it, so trying again is safe); only when no
replica answers is it a 502 in the contract shape.

With replicas, ``make dev`` also serves one internal balancer per service (``DEVSTACK_BALANCERS``,
each on its own port, in the same server): what a Kubernetes Service is to the other pods
(with one replica the others call it directly). A balancer
routes everything to its service and passes the caller's ``X-Forwarded-*`` through untouched
(``transparent``), as a Service does: the client forwards the browser's address to auth.

``make dev`` runs its two other stand-ins in the gateway's process (``main``): the mail
catcher's SMTP server and the Stripe sandbox on a port of its own.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import ExitStack, asynccontextmanager
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from urllib.parse import quote
from uuid import uuid4

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from ticketing.common.http_limits import MAX_BODY_BYTES, BodyLimitMiddleware
from ticketing.devstack.mailcatcher import MailStore, catching
from ticketing.devstack.mailpages import mail_routes
from ticketing.devstack.metricspage import metrics_routes
from ticketing.devstack.routes import Route, load_routes, route_for
from ticketing.stripe_sandbox.app import create_app as create_stripe_sandbox

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# A client's own X-Forwarded-* is replaced, never passed on: auth trusts the first hop.
FORWARDED = {"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"}
NOT_FORWARDED = HOP_BY_HOP | FORWARDED | {"host", "content-length", "x-request-id"}
NOT_RELAYED = HOP_BY_HOP | {"content-length", "content-encoding", "date", "server", "x-request-id"}
REQUEST_ID = "x-request-id"
_REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_PATH_SAFE = "/!$&'()*+,;=:@~"


def normalise_path(path: str) -> str:
    """RFC 3986 dot-segment removal on the decoded path, repeated slashes merged (as nginx)."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    trailing = path.endswith(("/", "/.", "/..")) and bool(segments)
    return "/" + "/".join(segments) + ("/" if trailing else "")


def request_id_of(request: Request) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a new one."""
    given = request.headers.get(REQUEST_ID, "")
    return given if _REQUEST_ID_SHAPE.fullmatch(given) else uuid4().hex


def _connection_tokens(connection: str) -> set[str]:
    """Headers a ``Connection`` header names are hop-by-hop too (RFC 9110 §7.6.1)."""
    return {name.strip().lower() for name in connection.split(",") if name.strip()}


def _forwarded_headers(
    request: Request, request_id: str, *, transparent: bool = False
) -> list[tuple[str, str]]:
    dropped = NOT_FORWARDED | _connection_tokens(request.headers.get("connection", ""))
    if transparent:
        dropped -= FORWARDED
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in dropped]
    if transparent:
        return [*headers, (REQUEST_ID, request_id)]
    return [
        *headers,
        ("x-forwarded-for", request.client.host if request.client else ""),
        ("x-forwarded-host", request.headers.get("host", "")),
        ("x-forwarded-proto", request.url.scheme),
        (REQUEST_ID, request_id),
    ]


def _refusing_cookie_jar() -> CookieJar:
    # No domain is allowed: the jar never stores a cookie, so it never sends one either.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class RoundRobin:
    """A service's replicas, each request starting one further along than the last."""

    def __init__(self, urls: Sequence[str]) -> None:
        self._urls = list(urls)
        self._next = 0

    def turn(self) -> list[str]:
        """Every replica, in the order this request should try them."""
        start = self._next
        self._next = (start + 1) % len(self._urls)
        return self._urls[start:] + self._urls[:start]


async def _first_answer(
    client: httpx.AsyncClient,
    bases: list[str],
    target: str,
    *,
    method: str,
    headers: list[tuple[str, str]],
    content: bytes,
) -> httpx.Response | None:
    """The response of the first replica that accepts the connection; ``None`` if none does
    (or one failed after accepting it: the request may have run, so it is not sent twice)."""
    for base in bases:
        try:
            return await client.request(method, base + target, headers=headers, content=content)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            continue
        except httpx.TransportError:
            return None
    return None


def _error(status_code: int, message: str, request_id: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message}]},
        status_code=status_code,
        headers={REQUEST_ID: request_id},
    )


def create_gateway(
    upstreams: Mapping[str, str | Sequence[str]],
    routes: list[Route] | None = None,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    mail: MailStore | None = None,
    metrics: Mapping[str, str] | None = None,
    transparent: bool = False,
) -> Starlette:
    """``upstreams``: each service's base URL, or the URLs of its replicas. ``mail``: also
    serve the dev mail catcher's ``/dev/mail`` pages (``make dev`` only). ``metrics``: each
    process's base URL, for ``/dev/metrics`` (``metricspage``). ``transparent``:
    relay the caller's ``X-Forwarded-*`` (an internal balancer) instead of setting them."""
    table = routes or load_routes()
    pools = {
        service: RoundRobin([urls] if isinstance(urls, str) else urls)
        for service, urls in upstreams.items()
        if urls
    }
    client = httpx.AsyncClient(timeout=30, follow_redirects=False, cookies=_refusing_cookie_jar())

    async def proxy(request: Request) -> Response:
        request_id = request_id_of(request)
        path = normalise_path(request.url.path)
        route = route_for(path, table)
        if route is None or route.service not in pools:
            return _error(404, "Not found", request_id)
        target = quote(path, safe=_PATH_SAFE)
        if request.url.query:
            target += "?" + request.url.query
        upstream = await _first_answer(
            client,
            pools[route.service].turn(),
            target,
            method=request.method,
            headers=_forwarded_headers(request, request_id, transparent=transparent),
            content=await request.body(),
        )
        if upstream is None:
            return _error(502, f"The {route.service} service is not reachable", request_id)
        response = Response(content=upstream.content, status_code=upstream.status_code)
        dropped = NOT_RELAYED | _connection_tokens(upstream.headers.get("connection", ""))
        for key, value in upstream.headers.multi_items():
            if key.lower() not in dropped:
                response.headers.append(key, value)
        response.headers[REQUEST_ID] = request_id
        return response

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(
        routes=[
            *(mail_routes(mail) if mail is not None else []),
            *(metrics_routes(metrics) if metrics else []),
            StarletteRoute("/{path:path}", proxy, methods=methods),
        ],
        middleware=[Middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)],
        lifespan=lifespan,
    )


def server_config(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> uvicorn.Config:
    """How ``make dev`` serves the gateway (tests serve it the same way)."""
    return uvicorn.Config(app, host=host, port=port, log_level="warning")


def by_port(apps: Mapping[int, ASGIApp], default: ASGIApp) -> ASGIApp:
    """One ASGI app serving several listening ports: each port's own app, else ``default``
    (which also gets the lifespan events)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        port = (scope.get("server") or (None, None))[1]
        await (apps.get(port, default) if isinstance(port, int) else default)(scope, receive, send)

    return app


def _listening(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def main() -> None:
    """The gateway, and with ``--smtp-port`` / ``--stripe-port`` make dev's two other
    stand-ins in this process: the mail catcher (its SMTP server writes the store the mail
    pages read) and the Stripe sandbox (one more port of the same server). One process
    instead of three, ~75 MiB less idle; they start and restart together."""
    parser = argparse.ArgumentParser(prog="python -m ticketing.devstack.gateway")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--smtp-port", type=int, help="catch mail here (needs DEVSTACK_MAIL_DIR)")
    parser.add_argument("--stripe-port", type=int, help="serve the Stripe sandbox here")
    parser.add_argument("--stripe-webhook-url", help="the sandbox's webhook endpoint")
    parser.add_argument("--stripe-webhook-secret", help="the whsec_ secret it signs with")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s: %(message)s"
    )
    upstreams: dict[str, str | list[str]] = json.loads(os.environ["DEVSTACK_UPSTREAMS"])
    balancers: dict[str, int] = json.loads(os.environ.get("DEVSTACK_BALANCERS", "{}"))
    mail_dir = os.environ.get("DEVSTACK_MAIL_DIR")
    mail = MailStore(Path(mail_dir)) if mail_dir else None
    ports: dict[int, ASGIApp] = {
        port: create_gateway({service: upstreams[service]}, [Route("/", service)], transparent=True)
        for service, port in balancers.items()
    }
    if args.stripe_port is not None:
        ports[args.stripe_port] = _stripe_sandbox(
            args.stripe_webhook_url, args.stripe_webhook_secret
        )
    metrics = json.loads(os.environ.get("DEVSTACK_METRICS", "{}"))
    app = by_port(ports, create_gateway(upstreams, mail=mail, metrics=metrics))
    sockets = [_listening(port) for port in (args.port, *ports)]
    with ExitStack() as stack:
        if args.smtp_port is not None:
            if mail is None:
                parser.error("--smtp-port needs DEVSTACK_MAIL_DIR")
            stack.enter_context(catching(mail, args.smtp_port))
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=sockets)


def _stripe_sandbox(webhook_url: str | None, webhook_secret: str | None) -> ASGIApp:
    """The sandbox's app, its deliveries logged (INFO) as its own process logged them."""
    logging.getLogger("ticketing.stripe_sandbox").setLevel(logging.INFO)
    return create_stripe_sandbox(webhook_url=webhook_url, webhook_secret=webhook_secret)


if __name__ == "__main__":
    main()
