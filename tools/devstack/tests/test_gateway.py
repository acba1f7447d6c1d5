"""The dev gateway behaves like the Ingress: no shared cookies, normalised paths, clean headers,
the 1 MiB body limit and a request id. Everything here runs on real uvicorn servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ticketing.auth.app import create_app as create_auth_app
from ticketing.auth.config import AuthSettings
from ticketing.common.auth import KeyPair
from ticketing.devstack.gateway import create_gateway, normalise_path, server_config
from ticketing.testkit.http import sign_up
from ticketing.testkit.serving import served

Seen = list[dict[str, Any]]


def echo_service(name: str, seen: Seen) -> Starlette:
    """An upstream that answers with what it received, and sends hop-by-hop headers back."""

    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        seen.append({"path": request.url.path, "headers": dict(request.headers)})
        return JSONResponse(
            {"service": name, "path": request.url.path, "bodyBytes": len(body)},
            headers={"connection": "x-upstream-hop", "x-upstream-hop": "1", "x-kept": "yes"},
        )

    return Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])


@pytest.fixture
async def seen() -> dict[str, Seen]:
    return {"auth": [], "client": []}


@pytest.fixture
async def gateway(seen: dict[str, Seen]) -> AsyncIterator[str]:
    async with (
        served(echo_service("auth", seen["auth"])) as auth,
        served(echo_service("client", seen["client"])) as client,
        served(server_config(create_gateway({"auth": auth, "client": client}))) as url,
    ):
        yield url


async def raw_request(base_url: str, target: str) -> tuple[int, bytes]:
    """Send ``target`` exactly as written (httpx would resolve the dot-segments itself)."""
    host, port = httpx.URL(base_url).host, httpx.URL(base_url).port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    "target",
    [
        "/api/users/../../openapi.json",
        "/api/users/%2e%2e/%2e%2e/openapi.json",
        "/api/users/%2E%2E/%2e./openapi.json",
        "/api/users/..%2f..%2fopenapi.json",
    ],
)
async def test_a_dot_segment_never_crosses_into_another_services_prefix(
    gateway: str, seen: dict[str, Seen], target: str
) -> None:
    status, body = await raw_request(gateway, target)

    assert seen["auth"] == []  # auth never sees a path outside /api/users
    assert status == 200
    assert httpx.Response(200, content=body).json() == {
        "service": "client",
        "path": "/openapi.json",
        "bodyBytes": 0,
    }


def test_paths_are_normalised_like_nginx_does() -> None:
    assert normalise_path("/api/users/./a//b/../c") == "/api/users/a/c"
    assert normalise_path("/../../etc/passwd") == "/etc/passwd"
    assert normalise_path("/api/tickets/") == "/api/tickets/"
    assert normalise_path("/api/users/..") == "/api/"
    assert normalise_path("//") == "/"


async def test_hop_by_hop_headers_are_not_relayed_either_way(
    gateway: str, seen: dict[str, Seen]
) -> None:
    async with httpx.AsyncClient(base_url=gateway) as http:
        response = await http.get(
            "/api/users/x",
            headers={
                "connection": "keep-alive, x-client-hop",
                "x-client-hop": "1",
                "te": "trailers",
                "proxy-authorization": "Basic Zm9vOmJhcg==",
                "x-end-to-end": "kept",
            },
        )

    received = seen["auth"][0]["headers"]
    assert "x-client-hop" not in received
    assert "te" not in received
    assert "proxy-authorization" not in received
    assert received["x-end-to-end"] == "kept"
    assert "x-upstream-hop" not in response.headers
    assert response.headers["x-kept"] == "yes"


async def test_date_and_server_headers_appear_once(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as http:
        response = await http.get("/api/users/x")

    assert len(response.headers.get_list("date")) == 1
    assert len(response.headers.get_list("server")) == 1


async def test_a_body_over_1_mib_is_refused_before_it_reaches_a_service(
    gateway: str, seen: dict[str, Seen]
) -> None:
    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(64):
            yield b"x" * 65536

    async with httpx.AsyncClient(base_url=gateway) as http:
        declared = await http.post("/api/users/signup", content=b"x" * (2 * 1024 * 1024))
        chunked = await http.post("/api/users/signup", content=streamed())
        at_the_limit = await http.post("/api/users/signup", content=b"x" * (1024 * 1024))

    for refused in (declared, chunked):
        assert refused.status_code == 413
        assert refused.json() == {"errors": [{"message": "Request body is too large"}]}
    assert at_the_limit.json()["bodyBytes"] == 1024 * 1024
    assert len(seen["auth"]) == 1  # only the one at the limit got through


async def test_a_request_id_is_passed_on_or_created_and_returned(
    gateway: str, seen: dict[str, Seen]
) -> None:
    async with httpx.AsyncClient(base_url=gateway) as http:
        given = await http.get("/api/users/x", headers={"x-request-id": "req-123"})
        created = await http.get("/api/users/x")

    assert seen["auth"][0]["headers"]["x-request-id"] == "req-123"
    assert given.headers["x-request-id"] == "req-123"
    new_id = created.headers["x-request-id"]
    assert len(new_id) >= 16
    assert seen["auth"][1]["headers"]["x-request-id"] == new_id


@pytest.fixture
async def gateway_to_auth(
    service_settings: Callable[[str], Awaitable[dict[str, Any]]], jwt_keys: KeyPair
) -> AsyncIterator[str]:
    settings = AuthSettings(**await service_settings("auth"), jwt_private_key=jwt_keys.private_pem)
    app = create_auth_app(settings)
    async with (
        LifespanManager(app, startup_timeout=60),
        served(app) as auth,
        served(server_config(create_gateway({"auth": auth}))) as url,
    ):
        yield url


async def test_a_visitor_without_a_cookie_is_signed_out_after_someone_signed_up(
    gateway_to_auth: str,
) -> None:
    async with httpx.AsyncClient(base_url=gateway_to_auth) as alice:
        user = await sign_up(alice)
        alices_view = (await alice.get("/api/users/currentuser")).json()
    async with httpx.AsyncClient(base_url=gateway_to_auth) as anonymous:
        anonymous_view = (await anonymous.get("/api/users/currentuser")).json()

    assert alices_view["currentUser"]["id"] == str(user.id)  # her Set-Cookie was relayed
    assert anonymous_view == {"currentUser": None}
