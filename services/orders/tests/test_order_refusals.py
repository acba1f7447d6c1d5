"""The orders a buyer may not place (DESIGN §3): their own ticket, a banned seller's ticket, a
reserved ticket, or any ticket while they hold too many unpaid orders; and which refusal wins."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.auth import CurrentUser
from ticketing.common.events import UserBanned, UserBannedData
from ticketing.orders.config import OrdersSettings
from ticketing.orders.models import Order
from ticketing.testkit.events import payment_created
from ticketing.testkit.http import assert_refused

if TYPE_CHECKING:
    from conftest import Handled, PublishTicket

OrdersHeld = Callable[[], Awaitable[int]]


def refusal(message: str) -> dict[str, list[dict[str, str]]]:
    return {"errors": [{"message": message}]}


async def place(client: httpx.AsyncClient, ticket_id: UUID) -> httpx.Response:
    return await client.post("/api/orders", json={"ticketId": str(ticket_id)})


@pytest.fixture
def orders_held(
    db: async_sessionmaker[AsyncSession], buyer: CurrentUser
) -> Callable[[], Awaitable[int]]:
    """How many orders of the buyer's orders' database holds (a refusal stores none)."""

    async def count() -> int:
        async with db() as session:
            held = await session.scalar(
                sa.select(sa.func.count()).select_from(Order).where(Order.user_id == buyer.id)
            )
        return int(held or 0)

    return count


async def hold_unpaid_orders(
    client: httpx.AsyncClient, publish_ticket: PublishTicket, count: int
) -> list[dict[str, str]]:
    orders = []
    for n in range(count):
        response = await place(client, (await publish_ticket(title=f"Seat {n}")).id)
        assert response.status_code == 201, response.text
        orders.append(response.json())
    return orders


async def test_cannot_buy_your_own_ticket(
    client: httpx.AsyncClient,
    buyer: CurrentUser,
    publish_ticket: PublishTicket,
    orders_held: OrdersHeld,
) -> None:
    ticket = await publish_ticket(seller=buyer.id)

    response = await place(client, ticket.id)

    assert_refused(response, 400, "Cannot buy your own ticket")
    assert await orders_held() == 0


async def test_a_banned_sellers_ticket_is_not_for_sale(
    client: httpx.AsyncClient,
    buyer: CurrentUser,
    publish_ticket: PublishTicket,
    deliver: Handled,
    orders_held: OrdersHeld,
) -> None:
    seller = uuid4()
    ticket = await publish_ticket(seller=seller)
    await deliver(UserBanned(data=UserBannedData(user_id=seller)))

    response = await place(client, ticket.id)

    assert_refused(response, 400, "Ticket is not for sale")
    assert await orders_held() == 0


async def test_a_buyer_holding_the_maximum_of_unpaid_orders_is_refused_another(
    client: httpx.AsyncClient,
    buyer: CurrentUser,
    publish_ticket: PublishTicket,
    orders_settings: OrdersSettings,
    orders_held: OrdersHeld,
) -> None:
    await hold_unpaid_orders(client, publish_ticket, orders_settings.max_unpaid_orders)

    response = await place(client, (await publish_ticket()).id)

    assert_refused(response, 400, "Too many unpaid orders")
    assert await orders_held() == orders_settings.max_unpaid_orders


async def test_cancelled_and_paid_orders_do_not_count_as_unpaid(
    client: httpx.AsyncClient,
    buyer: CurrentUser,
    publish_ticket: PublishTicket,
    orders_settings: OrdersSettings,
    deliver: Handled,
) -> None:
    held = await hold_unpaid_orders(client, publish_ticket, orders_settings.max_unpaid_orders)
    assert (await client.delete(f"/api/orders/{held[0]['id']}")).status_code == 204
    await deliver(payment_created(UUID(held[1]["id"])))

    first, second = [await place(client, (await publish_ticket()).id) for _ in range(2)]
    third = await place(client, (await publish_ticket()).id)

    assert (first.status_code, second.status_code) == (201, 201)
    assert third.json() == refusal("Too many unpaid orders")


async def test_a_reserved_ticket_is_reported_as_reserved_even_to_a_buyer_at_their_limit(
    client: httpx.AsyncClient,
    buyer: CurrentUser,
    stranger: httpx.AsyncClient,
    publish_ticket: PublishTicket,
    orders_settings: OrdersSettings,
) -> None:
    taken = await publish_ticket()
    assert (await place(stranger, taken.id)).status_code == 201
    await hold_unpaid_orders(client, publish_ticket, orders_settings.max_unpaid_orders)

    response = await place(client, taken.id)

    assert response.json() == refusal("Ticket is already reserved")


async def test_concurrent_orders_of_one_buyer_never_exceed_the_limit(
    client: httpx.AsyncClient,
    buyer: CurrentUser,
    publish_ticket: PublishTicket,
    orders_settings: OrdersSettings,
    orders_held: OrdersHeld,
) -> None:
    limit = orders_settings.max_unpaid_orders
    tickets = [await publish_ticket(title=f"Seat {n}") for n in range(2 * limit)]

    responses = await asyncio.gather(*(place(client, ticket.id) for ticket in tickets))

    assert Counter(r.status_code for r in responses) == {201: limit, 400: limit}
    refused = [r.json() for r in responses if r.status_code == 400]
    assert refused == [refusal("Too many unpaid orders")] * limit
    assert await orders_held() == limit
