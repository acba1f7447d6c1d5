"""Orders' test fixtures: the service on the test's bus, tickets published as the tickets
service would, signed-in buyers and their orders, and waiting until an event is handled."""

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.auth import CurrentUser, KeyPair
from ticketing.common.bus import Bus
from ticketing.common.db import processed_events
from ticketing.common.events import Event, TicketCreated, TicketCreatedData
from ticketing.orders.app import create_app
from ticketing.orders.config import OrdersSettings
from ticketing.orders.models import Ticket
from ticketing.testkit.events import publish_event
from ticketing.testkit.http import eventually, new_client_like, sign_in_as

SettingsFactory = Callable[[str], Awaitable[dict[str, Any]]]
OrdersSettingsWith = Callable[..., Awaitable[OrdersSettings]]
PublishTicket = Callable[..., Awaitable[TicketCreatedData]]
Handled = Callable[[Event], Awaitable[None]]
Order = dict[str, Any]


@pytest.fixture
def orders_settings_with(service_settings: SettingsFactory) -> OrdersSettingsWith:
    """Orders' test settings with ``changes``: the timings a test file's specification needs
    (it overrides ``orders_settings`` with them)."""

    async def settings(**changes: Any) -> OrdersSettings:
        return OrdersSettings(**{**await service_settings("orders"), **changes})

    return settings


@pytest.fixture
async def orders_settings(orders_settings_with: OrdersSettingsWith) -> OrdersSettings:
    return await orders_settings_with()


@pytest.fixture
def app(orders_settings: OrdersSettings) -> FastAPI:
    return create_app(orders_settings)


@pytest.fixture
def db(app: FastAPI, client: httpx.AsyncClient) -> async_sessionmaker[AsyncSession]:
    """The running service's own database, to look at what the bus made of events."""
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.runtime.sessionmaker
    return sessionmaker


@pytest.fixture
def replica(db: async_sessionmaker[AsyncSession]) -> Callable[[UUID], Awaitable[Ticket]]:
    """The replicated ticket; AssertionError (for ``eventually``) while it is not there."""

    async def read(ticket_id: UUID) -> Ticket:
        async with db() as session:
            ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None, f"ticket {ticket_id} not replicated yet"
        return ticket

    return read


@pytest.fixture
def handled(db: async_sessionmaker[AsyncSession]) -> Handled:
    """Wait until the service's consumer has committed ``event``."""

    async def check(event: Event) -> None:
        async with db() as session:
            found = await session.scalar(
                sa.select(processed_events.c.event_id).where(
                    processed_events.c.event_id == event.id
                )
            )
        assert found is not None, f"{event.type} {event.id} not handled yet"

    return lambda event: eventually(lambda: check(event))


@pytest.fixture
def publish_ticket(bus: Bus, replica: Callable[[UUID], Awaitable[Ticket]]) -> PublishTicket:
    """Act as the tickets service: publish ticket.created and wait until orders has it."""

    async def publish(
        *, title: str = "Concert", price: str = "20.00", seller: UUID | None = None
    ) -> TicketCreatedData:
        data = TicketCreatedData(
            id=uuid4(), title=title, price=Decimal(price), user_id=seller or uuid4(), version=0
        )
        await publish_event(bus, TicketCreated(data=data))
        await eventually(lambda: replica(data.id))
        return data

    return publish


@pytest.fixture
async def ticket(publish_ticket: PublishTicket) -> TicketCreatedData:
    return await publish_ticket()


@pytest.fixture
def deliver(bus: Bus, handled: Handled) -> Handled:
    """Publish ``event`` as its service would, and wait until orders has handled it."""

    async def publish(event: Event) -> None:
        await publish_event(bus, event)
        await handled(event)

    return publish


@pytest.fixture
def buyer(client: httpx.AsyncClient, jwt_keys: KeyPair) -> CurrentUser:
    """The user ``client`` is signed in as."""
    return sign_in_as(client, jwt_keys)


@pytest.fixture
async def stranger(
    client: httpx.AsyncClient, jwt_keys: KeyPair
) -> AsyncIterator[httpx.AsyncClient]:
    """Someone else, signed in, in a browser of their own."""
    async with new_client_like(client) as other:
        sign_in_as(other, jwt_keys)
        yield other


@pytest.fixture
async def order(client: httpx.AsyncClient, buyer: CurrentUser, ticket: TicketCreatedData) -> Order:
    """The buyer's order of ``ticket``, just placed."""
    response = await client.post("/api/orders", json={"ticketId": str(ticket.id)})
    assert response.status_code == 201, response.text
    placed: Order = response.json()
    return placed
