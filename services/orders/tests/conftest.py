from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus
from ticketing.common.db import processed_events
from ticketing.common.events import Event, TicketCreated, TicketCreatedData
from ticketing.orders.app import create_app
from ticketing.orders.config import OrdersSettings
from ticketing.orders.models import Ticket
from ticketing.testkit.events import publish_event
from ticketing.testkit.http import eventually, running_app

SettingsFactory = Callable[[str], Awaitable[dict[str, Any]]]
PublishTicket = Callable[..., Awaitable[TicketCreatedData]]


@pytest.fixture
async def orders_settings(service_settings: SettingsFactory) -> OrdersSettings:
    return OrdersSettings(**await service_settings("orders"))


@pytest.fixture
def app(orders_settings: OrdersSettings) -> FastAPI:
    return create_app(orders_settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(app) as client:
        yield client


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
def handled(db: async_sessionmaker[AsyncSession]) -> Callable[[Event], Awaitable[None]]:
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
