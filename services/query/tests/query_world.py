"""The query tests' world: events as the owning services would publish them, and the read
model as a client sees it (a module on the tests' path: the name conftest is taken)."""

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx

from ticketing.common.bus import Bus
from ticketing.common.events import (
    Event,
    OrderCreated,
    TicketCreated,
    TicketCreatedData,
    TicketUpdated,
    TicketUpdatedData,
    UserBanned,
    UserBannedData,
    UserCreated,
    UserCreatedData,
)
from ticketing.testkit.events import (
    order_created,
    publish_event,
)
from ticketing.testkit.http import eventually

SELLER = uuid4()
Rows = dict[str, list[tuple[Any, ...]]]
ReadModel = Callable[[], Awaitable[Rows]]


# --- events, as the owning services would publish them -------------------------------------


def user_signed_up(user_id: UUID) -> UserCreated:
    return UserCreated(data=UserCreatedData(id=user_id, email=f"{user_id.hex[:8]}@example.com"))


def user_banned(user_id: UUID) -> UserBanned:
    return UserBanned(data=UserBannedData(user_id=user_id))


def ticket_created(ticket_id: UUID, title: str = "Concert", price: str = "20.50") -> TicketCreated:
    data = TicketCreatedData(
        id=ticket_id, title=title, price=Decimal(price), user_id=SELLER, version=0
    )
    return TicketCreated(data=data)


def ticket_updated(
    ticket_id: UUID, version: int, order_id: UUID | None = None, title: str = "Concert"
) -> TicketUpdated:
    data = TicketUpdatedData(
        id=ticket_id,
        title=title,
        price=Decimal("20.50"),
        user_id=SELLER,
        version=version,
        order_id=order_id,
    )
    return TicketUpdated(data=data)


def reservation(order_id: UUID, ticket_id: UUID, buyer: UUID) -> OrderCreated:
    """``buyer``'s order ``order_id`` of the ticket, as orders announces it."""
    return order_created(buyer, price=Decimal("20.50"), ticket_id=ticket_id, order_id=order_id)


async def publish(bus: Bus, *events: Event) -> None:
    for event in events:
        await publish_event(bus, event)


async def listing(client: httpx.AsyncClient, ticket_id: UUID, **expected: Any) -> dict[str, Any]:
    """The listing once it shows ``expected`` (camelCase keys); fails after a deadline."""

    async def check() -> dict[str, Any]:
        response = await client.get(f"/api/query/tickets/{ticket_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert {key: body[key] for key in expected} == expected
        return body

    return await eventually(check)
