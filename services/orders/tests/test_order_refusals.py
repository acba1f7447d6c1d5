"""The orders a buyer may not place (DESIGN §3): their own ticket, a banned seller's ticket, a
reserved ticket, or any ticket while they hold too many unpaid orders; and which refusal wins."""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from uuid import UUID, uuid4

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.auth import KeyPair
from ticketing.common.bus import Bus
from ticketing.common.events import (
    Event,
    PaymentCreated,
    PaymentCreatedData,
    TicketCreatedData,
    UserBanned,
    UserBannedData,
)
from ticketing.orders.config import OrdersSettings
from ticketing.orders.models import Order
from ticketing.testkit.events import publish_event
from ticketing.testkit.http import new_client_like, sign_in_as

PublishTicket = Callable[..., Awaitable[TicketCreatedData]]
Handled = Callable[[Event], Awaitable[None]]


def refusal(message: str) -> dict[str, list[dict[str, str]]]:
    return {"errors": [{"message": message}]}


async def place(client: httpx.AsyncClient, ticket_id: UUID) -> httpx.Response:
    return await client.post("/api/orders", json={"ticketId": str(ticket_id)})


async def orders_in_database(db: async_sessionmaker[AsyncSession], buyer: UUID) -> int:
    async with db() as session:
        count = await session.scalar(
            sa.select(sa.func.count()).select_from(Order).where(Order.user_id == buyer)
        )
    return int(count or 0)


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
    jwt_keys: KeyPair,
    publish_ticket: PublishTicket,
    db: async_sessionmaker[AsyncSession],
) -> None:
    seller = sign_in_as(client, jwt_keys)
    ticket = await publish_ticket(seller=seller.id)

    response = await place(client, ticket.id)

    assert response.status_code == 400
    assert response.json() == refusal("Cannot buy your own ticket")
    assert await orders_in_database(db, seller.id) == 0


async def test_a_banned_sellers_ticket_is_not_for_sale(
    client: httpx.AsyncClient,
    jwt_keys: KeyPair,
    publish_ticket: PublishTicket,
    bus: Bus,
    handled: Handled,
    db: async_sessionmaker[AsyncSession],
) -> None:
    seller = sign_in_as(client, jwt_keys)  # only to have a user id; the buyer signs in below
    ticket = await publish_ticket(seller=seller.id)
    ban = UserBanned(data=UserBannedData(user_id=seller.id))
    await publish_event(bus, ban)
    await handled(ban)
    buyer = sign_in_as(client, jwt_keys)

    response = await place(client, ticket.id)

    assert response.status_code == 400
    assert response.json() == refusal("Ticket is not for sale")
    assert await orders_in_database(db, buyer.id) == 0


async def test_a_buyer_holding_the_maximum_of_unpaid_orders_is_refused_another(
    client: httpx.AsyncClient,
    jwt_keys: KeyPair,
    publish_ticket: PublishTicket,
    orders_settings: OrdersSettings,
    db: async_sessionmaker[AsyncSession],
) -> None:
    buyer = sign_in_as(client, jwt_keys)
    await hold_unpaid_orders(client, publish_ticket, orders_settings.max_unpaid_orders)

    response = await place(client, (await publish_ticket()).id)

    assert response.status_code == 400
    assert response.json() == refusal("Too many unpaid orders")
    assert await orders_in_database(db, buyer.id) == orders_settings.max_unpaid_orders


async def test_cancelled_and_paid_orders_do_not_count_as_unpaid(
    client: httpx.AsyncClient,
    jwt_keys: KeyPair,
    publish_ticket: PublishTicket,
    orders_settings: OrdersSettings,
    bus: Bus,
    handled: Handled,
) -> None:
    sign_in_as(client, jwt_keys)
    held = await hold_unpaid_orders(client, publish_ticket, orders_settings.max_unpaid_orders)
    assert (await client.delete(f"/api/orders/{held[0]['id']}")).status_code == 204
    payment = PaymentCreated(
        data=PaymentCreatedData(id=uuid4(), order_id=UUID(held[1]["id"]), stripe_id="pi_test")
    )
    await publish_event(bus, payment)
    await handled(payment)

    first, second = [await place(client, (await publish_ticket()).id) for _ in range(2)]
    third = await place(client, (await publish_ticket()).id)

    assert (first.status_code, second.status_code) == (201, 201)
    assert third.json() == refusal("Too many unpaid orders")


async def test_a_reserved_ticket_is_reported_as_reserved_even_to_a_buyer_at_their_limit(
    client: httpx.AsyncClient,
    jwt_keys: KeyPair,
    publish_ticket: PublishTicket,
    orders_settings: OrdersSettings,
) -> None:
    taken = await publish_ticket()
    async with new_client_like(client) as rival:
        sign_in_as(rival, jwt_keys)
        assert (await place(rival, taken.id)).status_code == 201
    sign_in_as(client, jwt_keys)
    await hold_unpaid_orders(client, publish_ticket, orders_settings.max_unpaid_orders)

    response = await place(client, taken.id)

    assert response.json() == refusal("Ticket is already reserved")


async def test_concurrent_orders_of_one_buyer_never_exceed_the_limit(
    client: httpx.AsyncClient,
    jwt_keys: KeyPair,
    publish_ticket: PublishTicket,
    orders_settings: OrdersSettings,
    db: async_sessionmaker[AsyncSession],
) -> None:
    limit = orders_settings.max_unpaid_orders
    tickets = [await publish_ticket(title=f"Seat {n}") for n in range(2 * limit)]
    buyer = sign_in_as(client, jwt_keys)

    responses = await asyncio.gather(*(place(client, ticket.id) for ticket in tickets))

    assert Counter(r.status_code for r in responses) == {201: limit, 400: limit}
    refused = [r.json() for r in responses if r.status_code == 400]
    assert refused == [refusal("Too many unpaid orders")] * limit
    assert await orders_in_database(db, buyer.id) == limit
