"""The orders routes of DESIGN §3, from the outside (tickets arrive as ticket.created events):
placing and listing orders. Showing and cancelling one: test_order_access.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import uuid4

import httpx
import pytest

from ticketing.common.auth import CurrentUser
from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.events import OrderCreated, TicketCreatedData, UserBanned, UserBannedData
from ticketing.orders.config import OrdersSettings
from ticketing.testkit.events import last_event
from ticketing.testkit.http import assert_refused, eventually

if TYPE_CHECKING:
    from conftest import Handled, Order, PublishTicket


async def place(client: httpx.AsyncClient, ticket_id: object) -> httpx.Response:
    return await client.post("/api/orders", json={"ticketId": str(ticket_id)})


async def test_placing_an_order_reserves_the_ticket_for_the_window(
    client: httpx.AsyncClient,
    buyer: CurrentUser,
    ticket: TicketCreatedData,
    orders_settings: OrdersSettings,
) -> None:
    before = utcnow()

    response = await place(client, ticket.id)

    assert response.status_code == 201
    order = response.json()
    assert order["userId"] == str(buyer.id)
    assert order["status"] == "created"
    assert order["version"] == 0
    assert order["ticket"] == {"id": str(ticket.id), "title": "Concert", "price": 20.0}
    window = timedelta(seconds=orders_settings.expiration_window_seconds)
    expires_at = datetime.fromisoformat(order["expiresAt"])
    assert before + window <= expires_at <= utcnow() + window


async def test_placing_an_order_publishes_order_created(
    client: httpx.AsyncClient, buyer: CurrentUser, ticket: TicketCreatedData, bus: Bus
) -> None:
    order = (await place(client, ticket.id)).json()

    event = await eventually(lambda: last_event(bus, OrderCreated))
    assert event.to_json()["data"] == {
        "id": order["id"],
        "status": "created",
        "userId": str(buyer.id),
        "expiresAt": order["expiresAt"],
        "version": 0,
        "ticket": {"id": str(ticket.id), "price": 20.0},
    }


async def test_placing_an_order_requires_a_session(
    client: httpx.AsyncClient, ticket: TicketCreatedData
) -> None:
    response = await place(client, ticket.id)

    assert_refused(response, 401, "Not authorized")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "TicketId is required"),
        ({"ticketId": "not-an-id"}, "TicketId must be a valid id"),
        ({"ticketId": 42}, "TicketId must be a valid id"),
    ],
)
async def test_placing_an_order_needs_a_valid_ticket_id(
    client: httpx.AsyncClient, buyer: CurrentUser, body: dict[str, object], message: str
) -> None:
    response = await client.post("/api/orders", json=body)

    assert_refused(response, 400, message, field="ticketId")


async def test_an_unknown_ticket_cannot_be_ordered(
    client: httpx.AsyncClient, buyer: CurrentUser
) -> None:
    response = await place(client, uuid4())

    assert_refused(response, 404, "Not found")


async def test_a_reserved_ticket_cannot_be_ordered_again(
    stranger: httpx.AsyncClient, ticket: TicketCreatedData, order: Order
) -> None:
    response = await place(stranger, ticket.id)

    assert_refused(response, 400, "Ticket is already reserved")


async def test_a_user_lists_only_their_own_orders_each_with_its_ticket(
    client: httpx.AsyncClient,
    buyer: CurrentUser,
    stranger: httpx.AsyncClient,
    publish_ticket: PublishTicket,
) -> None:
    first, second, theirs = [await publish_ticket(title=f"Show {n}") for n in range(3)]
    mine = [(await place(client, t.id)).json() for t in (first, second)]
    await place(stranger, theirs.id)

    response = await client.get("/api/orders")

    assert response.status_code == 200
    assert response.json() == mine
    assert [o["ticket"]["title"] for o in response.json()] == ["Show 0", "Show 1"]


async def test_listing_orders_requires_a_session(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/orders")

    assert_refused(response, 401, "Not authorized")


async def test_idempotency_key_replays_the_original_answer(
    client: httpx.AsyncClient, buyer: CurrentUser, ticket: TicketCreatedData
) -> None:
    headers = {"Idempotency-Key": f"key-{uuid4()}"}
    body = {"ticketId": str(ticket.id)}
    first = await client.post("/api/orders", json=body, headers=headers)

    retry = await client.post("/api/orders", json=body, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert [o["id"] for o in (await client.get("/api/orders")).json()] == [first.json()["id"]]


async def test_idempotency_key_reused_with_another_body_is_refused(
    client: httpx.AsyncClient, buyer: CurrentUser, publish_ticket: PublishTicket
) -> None:
    one, other = [await publish_ticket() for _ in range(2)]
    headers = {"Idempotency-Key": f"key-{uuid4()}"}
    await client.post("/api/orders", json={"ticketId": str(one.id)}, headers=headers)

    response = await client.post("/api/orders", json={"ticketId": str(other.id)}, headers=headers)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len((await client.get("/api/orders")).json()) == 1


async def test_a_banned_user_is_refused_although_their_token_is_valid(
    client: httpx.AsyncClient, buyer: CurrentUser, deliver: Handled
) -> None:
    await deliver(UserBanned(data=UserBannedData(user_id=buyer.id)))

    assert (await client.get("/api/orders")).status_code == 401
