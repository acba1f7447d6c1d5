import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ticketing.common.auth import CurrentUser, KeyPair
from ticketing.common.service import ServiceRuntime
from ticketing.common.testing.http import running_app, sign_in_as
from ticketing.tickets.app import create_app
from ticketing.tickets.config import TicketsSettings


@pytest.fixture
async def tickets_settings(
    service_settings: Callable[[str], Awaitable[dict[str, Any]]],
) -> TicketsSettings:
    return TicketsSettings(**await service_settings("tickets"))


@pytest.fixture
def app(tickets_settings: TicketsSettings) -> FastAPI:
    return create_app(tickets_settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(app) as client:
        yield client
        await _stop_service_loops()


async def _stop_service_loops() -> None:
    """Workaround until common's lifespan does it: cancel the service's loops until they stop.

    On Python 3.11 ``asyncio.wait_for`` swallows a cancellation that arrives together with the
    awaited reply (nats-py requests and fetches use it), so the lifespan's single ``cancel()``
    can be lost and its ``gather`` then waits for a loop that never ends (shutdown times out).
    """
    loops = [t for t in asyncio.all_tasks() if t.get_name() in ("consumer", "outbox-relay")]
    while pending := [t for t in loops if not t.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.2)


@pytest.fixture
def runtime(app: FastAPI, client: httpx.AsyncClient) -> ServiceRuntime:
    """The running service's database and bus (after start-up: migrated and connected)."""
    runtime: ServiceRuntime = app.state.runtime
    return runtime


@pytest.fixture
def seller(client: httpx.AsyncClient, jwt_keys: KeyPair) -> CurrentUser:
    """``client`` signed in as a seller."""
    return sign_in_as(client, jwt_keys)
