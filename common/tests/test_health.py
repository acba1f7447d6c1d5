"""The probes every process serves (DESIGN §3): /healthz while it runs, /readyz naming in the
contract shape every dependency it cannot use. Dependencies here are real sockets: a server
listening on loopback, and a port nothing listens on (the connection is refused)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from ticketing.common.errors import ServiceUnavailableError
from ticketing.common.health import Check, Dependency, probe_app
from ticketing.testkit.embedded import free_port


def tcp_connects(port: int) -> Check:
    async def check() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()

    return check


@pytest.fixture
async def listening_port() -> AsyncIterator[int]:
    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def probes(dependencies: Sequence[Dependency]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=probe_app("probes", dependencies))
    return httpx.AsyncClient(transport=transport, base_url="http://probes")


async def test_healthz_answers_even_when_nothing_is_reachable() -> None:
    async with probes([Dependency("Redis", tcp_connects(free_port()))]) as client:
        response = await client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_is_ready_when_every_dependency_answers(listening_port: int) -> None:
    dependencies = [Dependency("Redis", tcp_connects(listening_port))]
    async with probes(dependencies) as client:
        response = await client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"status": "ready"})


async def test_readyz_names_each_unreachable_dependency_and_not_its_error(
    listening_port: int,
) -> None:
    dependencies = [
        Dependency("Database", tcp_connects(free_port())),
        Dependency("NATS", tcp_connects(listening_port)),
        Dependency("Redis", tcp_connects(free_port())),
    ]
    async with probes(dependencies) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "errors": [{"message": "Database is not reachable"}, {"message": "Redis is not reachable"}]
    }


async def test_a_check_that_knows_why_says_so(listening_port: int) -> None:
    """A service that answers, but not ready (here: its own /readyz is a 503)."""
    upstream = probes([Dependency("Redis", tcp_connects(free_port()))])

    async def upstream_is_ready() -> None:
        if (await upstream.get("/readyz")).status_code != 200:
            raise ServiceUnavailableError("The upstream service is not healthy")

    async with upstream, probes([Dependency("The upstream service", upstream_is_ready)]) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"errors": [{"message": "The upstream service is not healthy"}]}


async def test_an_unknown_path_of_a_probe_server_is_a_contract_404() -> None:
    async with probes([]) as client:
        response = await client.get("/metrics/nope")

    assert (response.status_code, response.json()) == (404, {"errors": [{"message": "Not found"}]})
