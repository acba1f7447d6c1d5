from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from ticketing.common.auth import CurrentUser, KeyPair
from ticketing.common.service import ServiceRuntime
from ticketing.testkit.http import running_app, sign_in_as
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


@pytest.fixture
def runtime(app: FastAPI, client: httpx.AsyncClient) -> ServiceRuntime:
    """The running service's database and bus (after start-up: migrated and connected)."""
    runtime: ServiceRuntime = app.state.runtime
    return runtime


@pytest.fixture
def seller(client: httpx.AsyncClient, jwt_keys: KeyPair) -> CurrentUser:
    """``client`` signed in as a seller."""
    return sign_in_as(client, jwt_keys)


@pytest.fixture
async def ticket_id(client: httpx.AsyncClient, seller: CurrentUser) -> UUID:
    """A ticket ``seller`` listed: a Concert at 20, free, version 0."""
    response = await client.post("/api/tickets", json={"title": "Concert", "price": 20})
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"])
