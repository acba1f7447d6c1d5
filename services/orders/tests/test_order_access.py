"""The orders routes of DESIGN §3 that act on one order: only its owner sees or cancels it;
cancelling publishes order.cancelled once and frees the ticket."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import uuid4

import httpx
import pytest

from ticketing.common.auth import CurrentUser, KeyPair
from ticketing.common.bus import Bus
from ticketing.common.events import OrderCancelled, TicketCreatedData
from ticketing.testkit.events import last_event
from ticketing.testkit.http import assert_refused, eventually, new_client_like, sign_in_as

if TYPE_CHECKING:
    from conftest import Order

NOT_FOUND = {"errors": [{"message": "Not found"}]}


def url_of(order: Order) -> str:
    return f"/api/orders/{order['id']}"


async def test_the_owner_sees_their_order(client: httpx.AsyncClient, order: Order) -> None:
    response = await client.get(url_of(order))

    assert response.status_code == 200
    assert response.json() == order


async def test_another_user_cannot_see_an_order(stranger: httpx.AsyncClient, order: Order) -> None:
    response = await stranger.get(url_of(order))

    assert_refused(response, 401, "Not authorized")


async def test_showing_an_order_requires_a_session(client: httpx.AsyncClient, order: Order) -> None:
    client.cookies.clear()

    response = await client.get(url_of(order))

    assert response.status_code == 401


@pytest.mark.parametrize("order_id", [str(uuid4()), "not-an-id"], ids=["unknown", "malformed"])
async def test_an_unknown_or_malformed_order_id_is_not_found(
    client: httpx.AsyncClient, buyer: CurrentUser, order_id: str
) -> None:
    shown = await client.get(f"/api/orders/{order_id}")
    deleted = await client.delete(f"/api/orders/{order_id}")

    assert shown.status_code == deleted.status_code == 404
    assert shown.json() == deleted.json() == NOT_FOUND


async def test_cancelling_an_order_publishes_it_and_frees_the_ticket(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData, order: Order, bus: Bus
) -> None:
    response = await client.delete(url_of(order))

    assert response.status_code == 204
    assert response.content == b""
    cancelled = (await client.get(url_of(order))).json()
    assert (cancelled["status"], cancelled["version"]) == ("cancelled", 1)
    event = await eventually(lambda: last_event(bus, OrderCancelled))
    assert event.to_json()["data"] == {
        "id": order["id"],
        "version": 1,
        "ticket": {"id": str(ticket.id)},
    }
    async with new_client_like(client) as next_buyer:
        sign_in_as(next_buyer, jwt_keys)
        response = await next_buyer.post("/api/orders", json={"ticketId": str(ticket.id)})
        assert response.status_code == 201


async def test_cancelling_twice_is_harmless_and_publishes_once(
    client: httpx.AsyncClient, order: Order, bus: Bus
) -> None:
    await client.delete(url_of(order))
    first_event = await eventually(lambda: last_event(bus, OrderCancelled))

    response = await client.delete(url_of(order))

    assert response.status_code == 204
    assert (await client.get(url_of(order))).json()["version"] == 1
    assert (await last_event(bus, OrderCancelled)).id == first_event.id


async def test_another_user_cannot_cancel_an_order(
    client: httpx.AsyncClient, stranger: httpx.AsyncClient, order: Order
) -> None:
    response = await stranger.delete(url_of(order))

    assert response.status_code == 401
    assert (await client.get(url_of(order))).json()["status"] == "created"


async def test_cancelling_requires_a_session(client: httpx.AsyncClient, order: Order) -> None:
    client.cookies.clear()

    response = await client.delete(url_of(order))

    assert_refused(response, 401, "Not authorized")
