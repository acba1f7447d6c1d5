"""The orders routes of DESIGN §3, from the outside (tickets arrive as ticket.created events)."""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from ticketing.common.auth import KeyPair
from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.events import (
    Event,
    OrderCancelled,
    OrderCreated,
    TicketCreatedData,
    UserBanned,
    UserBannedData,
)
from ticketing.orders.config import OrdersSettings
from ticketing.testkit.events import last_event, publish_event
from ticketing.testkit.http import eventually, new_client_like, sign_in_as

NOT_AUTHORIZED = {"errors": [{"message": "Not authorized"}]}
NOT_FOUND = {"errors": [{"message": "Not found"}]}
RESERVED = {"errors": [{"message": "Ticket is already reserved"}]}

PublishTicket = Callable[..., Awaitable[TicketCreatedData]]


async def place(client: httpx.AsyncClient, ticket_id: object) -> httpx.Response:
    return await client.post("/api/orders", json={"ticketId": str(ticket_id)})


async def test_placing_an_order_reserves_the_ticket_for_the_window(
    client: httpx.AsyncClient,
    jwt_keys: KeyPair,
    ticket: TicketCreatedData,
    orders_settings: OrdersSettings,
) -> None:
    user = sign_in_as(client, jwt_keys)
    before = utcnow()

    response = await place(client, ticket.id)

    assert response.status_code == 201
    order = response.json()
    assert order["userId"] == str(user.id)
    assert order["status"] == "created"
    assert order["version"] == 0
    assert order["ticket"] == {"id": str(ticket.id), "title": "Concert", "price": 20.0}
    window = timedelta(seconds=orders_settings.expiration_window_seconds)
    expires_at = datetime.fromisoformat(order["expiresAt"])
    assert before + window <= expires_at <= utcnow() + window


async def test_placing_an_order_publishes_order_created(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData, bus: Bus
) -> None:
    user = sign_in_as(client, jwt_keys)

    order = (await place(client, ticket.id)).json()

    event = await eventually(lambda: last_event(bus, OrderCreated))
    assert event.to_json()["data"] == {
        "id": order["id"],
        "status": "created",
        "userId": str(user.id),
        "expiresAt": order["expiresAt"],
        "version": 0,
        "ticket": {"id": str(ticket.id), "price": 20.0},
    }


async def test_placing_an_order_requires_a_session(
    client: httpx.AsyncClient, ticket: TicketCreatedData
) -> None:
    response = await place(client, ticket.id)

    assert response.status_code == 401
    assert response.json() == NOT_AUTHORIZED


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "TicketId is required"),
        ({"ticketId": "not-an-id"}, "TicketId must be a valid id"),
        ({"ticketId": 42}, "TicketId must be a valid id"),
    ],
)
async def test_placing_an_order_needs_a_valid_ticket_id(
    client: httpx.AsyncClient, jwt_keys: KeyPair, body: dict[str, object], message: str
) -> None:
    sign_in_as(client, jwt_keys)

    response = await client.post("/api/orders", json=body)

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": message, "field": "ticketId"}]}


async def test_an_unknown_ticket_cannot_be_ordered(
    client: httpx.AsyncClient, jwt_keys: KeyPair
) -> None:
    sign_in_as(client, jwt_keys)

    response = await place(client, uuid4())

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_a_reserved_ticket_cannot_be_ordered_again(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData
) -> None:
    sign_in_as(client, jwt_keys)
    await place(client, ticket.id)
    async with new_client_like(client) as rival:
        sign_in_as(rival, jwt_keys)

        response = await place(rival, ticket.id)

    assert response.status_code == 400
    assert response.json() == RESERVED


async def test_a_user_lists_only_their_own_orders_each_with_its_ticket(
    client: httpx.AsyncClient, jwt_keys: KeyPair, publish_ticket: PublishTicket
) -> None:
    first, second, theirs = [await publish_ticket(title=f"Show {n}") for n in range(3)]
    sign_in_as(client, jwt_keys)
    mine = [(await place(client, t.id)).json() for t in (first, second)]
    async with new_client_like(client) as other:
        sign_in_as(other, jwt_keys)
        await place(other, theirs.id)

    response = await client.get("/api/orders")

    assert response.status_code == 200
    assert response.json() == mine
    assert [o["ticket"]["title"] for o in response.json()] == ["Show 0", "Show 1"]


async def test_listing_orders_requires_a_session(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/orders")

    assert response.status_code == 401
    assert response.json() == NOT_AUTHORIZED


async def test_the_owner_sees_their_order(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData
) -> None:
    sign_in_as(client, jwt_keys)
    order = (await place(client, ticket.id)).json()

    response = await client.get(f"/api/orders/{order['id']}")

    assert response.status_code == 200
    assert response.json() == order


async def test_another_user_cannot_see_an_order(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData
) -> None:
    sign_in_as(client, jwt_keys)
    order = (await place(client, ticket.id)).json()
    async with new_client_like(client) as other:
        sign_in_as(other, jwt_keys)

        response = await other.get(f"/api/orders/{order['id']}")

    assert response.status_code == 401
    assert response.json() == NOT_AUTHORIZED


async def test_showing_an_order_requires_a_session(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData
) -> None:
    sign_in_as(client, jwt_keys)
    order = (await place(client, ticket.id)).json()
    client.cookies.clear()

    response = await client.get(f"/api/orders/{order['id']}")

    assert response.status_code == 401


@pytest.mark.parametrize("order_id", [str(uuid4()), "not-an-id"])
async def test_an_unknown_or_malformed_order_id_is_not_found(
    client: httpx.AsyncClient, jwt_keys: KeyPair, order_id: str
) -> None:
    sign_in_as(client, jwt_keys)

    shown = await client.get(f"/api/orders/{order_id}")
    deleted = await client.delete(f"/api/orders/{order_id}")

    assert shown.status_code == deleted.status_code == 404
    assert shown.json() == deleted.json() == NOT_FOUND


async def test_cancelling_an_order_publishes_it_and_frees_the_ticket(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData, bus: Bus
) -> None:
    sign_in_as(client, jwt_keys)
    order = (await place(client, ticket.id)).json()

    response = await client.delete(f"/api/orders/{order['id']}")

    assert response.status_code == 204
    assert response.content == b""
    cancelled = (await client.get(f"/api/orders/{order['id']}")).json()
    assert (cancelled["status"], cancelled["version"]) == ("cancelled", 1)
    event = await eventually(lambda: last_event(bus, OrderCancelled))
    assert event.to_json()["data"] == {
        "id": order["id"],
        "version": 1,
        "ticket": {"id": str(ticket.id)},
    }
    async with new_client_like(client) as next_buyer:
        sign_in_as(next_buyer, jwt_keys)
        assert (await place(next_buyer, ticket.id)).status_code == 201


async def test_cancelling_twice_is_harmless_and_publishes_once(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData, bus: Bus
) -> None:
    sign_in_as(client, jwt_keys)
    order = (await place(client, ticket.id)).json()
    await client.delete(f"/api/orders/{order['id']}")
    first_event = await eventually(lambda: last_event(bus, OrderCancelled))

    response = await client.delete(f"/api/orders/{order['id']}")

    assert response.status_code == 204
    assert (await client.get(f"/api/orders/{order['id']}")).json()["version"] == 1
    assert (await last_event(bus, OrderCancelled)).id == first_event.id


async def test_another_user_cannot_cancel_an_order(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData
) -> None:
    sign_in_as(client, jwt_keys)
    order = (await place(client, ticket.id)).json()
    async with new_client_like(client) as other:
        sign_in_as(other, jwt_keys)

        response = await other.delete(f"/api/orders/{order['id']}")

    assert response.status_code == 401
    assert (await client.get(f"/api/orders/{order['id']}")).json()["status"] == "created"


async def test_cancelling_requires_a_session(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData
) -> None:
    sign_in_as(client, jwt_keys)
    order = (await place(client, ticket.id)).json()
    client.cookies.clear()

    response = await client.delete(f"/api/orders/{order['id']}")

    assert response.status_code == 401
    assert response.json() == NOT_AUTHORIZED


async def test_idempotency_key_replays_the_original_answer(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData
) -> None:
    sign_in_as(client, jwt_keys)
    headers = {"Idempotency-Key": f"key-{uuid4()}"}
    body = {"ticketId": str(ticket.id)}
    first = await client.post("/api/orders", json=body, headers=headers)

    retry = await client.post("/api/orders", json=body, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert [o["id"] for o in (await client.get("/api/orders")).json()] == [first.json()["id"]]


async def test_idempotency_key_reused_with_another_body_is_refused(
    client: httpx.AsyncClient, jwt_keys: KeyPair, publish_ticket: PublishTicket
) -> None:
    one, other = [await publish_ticket() for _ in range(2)]
    sign_in_as(client, jwt_keys)
    headers = {"Idempotency-Key": f"key-{uuid4()}"}
    await client.post("/api/orders", json={"ticketId": str(one.id)}, headers=headers)

    response = await client.post("/api/orders", json={"ticketId": str(other.id)}, headers=headers)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len((await client.get("/api/orders")).json()) == 1


async def test_a_banned_user_is_refused_although_their_token_is_valid(
    client: httpx.AsyncClient,
    jwt_keys: KeyPair,
    bus: Bus,
    handled: Callable[[Event], Awaitable[None]],
) -> None:
    user = sign_in_as(client, jwt_keys)
    ban = UserBanned(data=UserBannedData(user_id=user.id))

    await publish_event(bus, ban)

    await handled(ban)
    assert (await client.get("/api/orders")).status_code == 401
