"""The client's upstream transport over real sockets: httpx's requests and responses through
reqwest's pool, every failure to get an answer one of httpx's transport errors."""

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ticketing.client.upstream_transport import ReqwestTransport
from ticketing.testkit.embedded import free_port
from ticketing.testkit.serving import served


async def echo(request: Request) -> Response:
    """What the service received, as JSON; two cookies set, as sign-in does."""
    received = {
        "method": request.method,
        "path": request.url.path,
        "query": dict(request.query_params),
        "cookie": request.headers.get("cookie"),
        "requestId": request.headers.get("x-request-id"),
        "body": (await request.body()).decode(),
    }
    response = Response(json.dumps(received), status_code=201, media_type="application/json")
    response.headers.append("set-cookie", "session=abc; HttpOnly")
    response.headers.append("set-cookie", "csrf=def")
    return response


async def hang(request: Request) -> Response:
    await request.app.state.released.wait()
    return Response("too late")


@pytest.fixture
def service() -> Starlette:
    """A service of its own per test: ``/hang`` answers once ``state.released`` is set."""
    app = Starlette(routes=[Route("/echo", echo, methods=["GET", "POST"]), Route("/hang", hang)])
    app.state.released = asyncio.Event()
    return app


@pytest.fixture
async def upstream() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=ReqwestTransport(4), timeout=5) as http:
        yield http


async def test_a_call_and_its_answer_arrive_whole(
    upstream: httpx.AsyncClient, service: Starlette
) -> None:
    async with served(service) as url:
        response = await upstream.post(
            f"{url}/echo",
            params={"status": "available", "limit": 50},
            json={"title": "Café ünïcode", "price": 12.5},
            headers={"cookie": "session=xyz", "x-request-id": "r-1"},
        )

    assert response.status_code == 201
    assert response.headers.get_list("set-cookie") == ["session=abc; HttpOnly", "csrf=def"]
    assert response.json() == {
        "method": "POST",
        "path": "/echo",
        "query": {"status": "available", "limit": "50"},
        "cookie": "session=xyz",
        "requestId": "r-1",
        "body": '{"title":"Café ünïcode","price":12.5}',
    }


async def test_a_refused_connection_is_a_connect_error(upstream: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.ConnectError):
        await upstream.get(f"http://127.0.0.1:{free_port()}/echo")


async def test_a_service_slower_than_the_timeout_is_a_timeout(service: Starlette) -> None:
    transport = ReqwestTransport(4)
    async with served(service) as url, httpx.AsyncClient(transport=transport) as http:
        try:
            with pytest.raises(httpx.TimeoutException):
                await http.get(f"{url}/hang", timeout=0.2)
        finally:
            service.state.released.set()  # lets the server stop


async def test_a_restarted_service_is_called_on_a_new_connection(
    upstream: httpx.AsyncClient, service: Starlette
) -> None:
    port = free_port()
    async with served(service, port=port) as url:
        first = await upstream.get(f"{url}/echo")
    async with served(service, port=port):  # the old server closed the pooled connection
        again = await upstream.get(f"{url}/echo")
        posted = await upstream.post(f"{url}/echo", content=b"x")

    assert (first.status_code, again.status_code, posted.status_code) == (201, 201, 201)
    assert posted.json()["body"] == "x"
