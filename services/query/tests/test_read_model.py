"""The read model, fed by events published straight onto the bus, read through the API."""

from typing import Any
from uuid import uuid4

import httpx
from query_world import (
    SELLER,
    ReadModel,
    listing,
    publish,
    reservation,
    ticket_created,
    ticket_updated,
)

from ticketing.common.auth import CurrentUser, KeyPair
from ticketing.common.bus import Bus
from ticketing.common.events import (
    EVENT_TYPES,
    ExpirationComplete,
    ExpirationCompleteData,
    UserBanned,
    UserBannedData,
)
from ticketing.query.listeners import SUBSCRIPTIONS
from ticketing.testkit.events import (
    order_cancelled,
    order_completed,
    payment_created,
    publish_event,
)
from ticketing.testkit.http import eventually, sign_in_as

# --- a sale, step by step -------------------------------------------------------------------


async def test_a_sale_moves_the_listing_from_available_to_reserved_to_sold(
    client: httpx.AsyncClient, bus: Bus, jwt_keys: KeyPair
) -> None:
    ticket_id, order_id = uuid4(), uuid4()
    buyer = sign_in_as(client, jwt_keys)
    payment = payment_created(order_id)
    order = reservation(order_id, ticket_id, buyer.id)

    await publish(bus, ticket_created(ticket_id))
    created = await listing(client, ticket_id, status="available")
    await publish(bus, order)
    await listing(client, ticket_id, status="reserved", orderId=None)
    await publish(bus, ticket_updated(ticket_id, 1, order_id=order_id))
    await listing(client, ticket_id, status="reserved", orderId=str(order_id), version=1)
    await publish(bus, payment)
    await listing(client, ticket_id, status="sold")
    await publish(bus, order_completed(order))

    sold = await listing(client, ticket_id, status="sold", version=1)
    assert created == {
        "id": str(ticket_id),
        "title": "Concert",
        "price": 20.5,
        "userId": str(SELLER),
        "version": 0,
        "orderId": None,
        "status": "available",
        "updatedAt": created["updatedAt"],
    }
    assert sold["updatedAt"] > created["updatedAt"]
    orders = await eventually(lambda: orders_of(client, expected_status="complete"))
    assert orders == [
        {
            "id": str(order_id),
            "userId": str(buyer.id),
            "status": "complete",
            "expiresAt": orders[0]["expiresAt"],
            "version": 1,
            "ticket": {"id": str(ticket_id), "title": "Concert", "price": 20.5},
            "payment": {"id": str(payment.data.id), "stripeId": payment.data.stripe_id},
        }
    ]


async def orders_of(
    client: httpx.AsyncClient, expected_status: str | None = None
) -> list[dict[str, Any]]:
    response = await client.get("/api/query/orders")
    assert response.status_code == 200, response.text
    orders: list[dict[str, Any]] = response.json()
    if expected_status is not None:
        assert [order["status"] for order in orders] == [expected_status]
    return orders


async def test_a_cancelled_order_puts_the_ticket_back_on_sale(
    client: httpx.AsyncClient, bus: Bus
) -> None:
    ticket_id, order_id = uuid4(), uuid4()
    order = reservation(order_id, ticket_id, uuid4())
    await publish(
        bus,
        ticket_created(ticket_id),
        order,
        ticket_updated(ticket_id, 1, order_id=order_id),
        ExpirationComplete(data=ExpirationCompleteData(order_id=order_id)),
    )
    await listing(client, ticket_id, status="reserved", version=1)

    await publish(bus, order_cancelled(order), ticket_updated(ticket_id, 2))

    await listing(client, ticket_id, status="available", version=2, orderId=None)


# --- any interleaving converges -------------------------------------------------------------


async def test_a_ticket_update_that_overtakes_its_predecessor_waits_for_it(
    client: httpx.AsyncClient, bus: Bus
) -> None:
    ticket_id = uuid4()
    await publish(bus, ticket_created(ticket_id))

    await publish(bus, ticket_updated(ticket_id, 2, title="Second"))
    await publish(bus, ticket_updated(ticket_id, 1, title="First"))

    await listing(client, ticket_id, version=2, title="Second")


async def test_an_order_and_its_payment_arriving_before_the_ticket_still_sell_it(
    client: httpx.AsyncClient, bus: Bus, jwt_keys: KeyPair
) -> None:
    ticket_id, order_id = uuid4(), uuid4()
    buyer = sign_in_as(client, jwt_keys)

    await publish(bus, payment_created(order_id))
    await publish(bus, reservation(order_id, ticket_id, buyer.id))
    orders = await eventually(lambda: orders_of(client, expected_status="created"))
    assert orders[0]["ticket"] == {"id": str(ticket_id), "title": None, "price": 20.5}
    await publish(bus, ticket_created(ticket_id))

    await listing(client, ticket_id, status="sold")
    orders = await eventually(lambda: orders_of(client, expected_status="created"))
    assert orders[0]["ticket"]["title"] == "Concert"


async def test_redelivered_events_change_nothing(
    client: httpx.AsyncClient, bus: Bus, jwt_keys: KeyPair
) -> None:
    ticket_id, order_id = uuid4(), uuid4()
    buyer = sign_in_as(client, jwt_keys)
    reserve = reservation(order_id, ticket_id, buyer.id)
    first_edit = ticket_updated(ticket_id, 1, title="First")
    await publish(bus, ticket_created(ticket_id), first_edit, reserve, order_cancelled(reserve))
    await publish(bus, ticket_updated(ticket_id, 2, title="Second"))
    await listing(client, ticket_id, version=2, status="available")

    for event in (first_edit, reserve):  # same event ids, new message ids: a redelivery
        await publish_event(bus, event, msg_id=str(uuid4()))
    marker = uuid4()
    await publish(bus, ticket_created(marker))  # handled after the redeliveries
    await listing(client, marker, status="available")

    await listing(client, ticket_id, version=2, title="Second", status="available")
    assert [order["id"] for order in await orders_of(client, "cancelled")] == [str(order_id)]


async def test_a_ticket_created_again_under_another_event_id_changes_nothing(
    client: httpx.AsyncClient, bus: Bus, read_model: ReadModel
) -> None:
    """As a rebuild replays a creation onto the row its snapshot already holds: handled (not
    failed), and the listing stays as it was."""
    ticket_id = uuid4()
    await publish(bus, ticket_created(ticket_id), ticket_updated(ticket_id, 1, title="Edited"))
    await listing(client, ticket_id, version=1)
    again = ticket_created(ticket_id, title="Created again")

    await publish(bus, again)

    async def handled() -> None:
        assert again.id in {row[0] for row in (await read_model())["processed_events"]}

    await eventually(handled)
    await listing(client, ticket_id, version=1, title="Edited", status="available")


def test_every_event_of_the_platform_feeds_the_read_model() -> None:
    assert set(SUBSCRIPTIONS) == set(EVENT_TYPES.values())


# --- the listing page -----------------------------------------------------------------------


async def test_an_unknown_or_malformed_ticket_is_a_404(client: httpx.AsyncClient) -> None:
    for ticket_id in (str(uuid4()), "not-an-id"):
        response = await client.get(f"/api/query/tickets/{ticket_id}")

        assert response.status_code == 404
        assert response.json() == {"errors": [{"message": "Not found"}]}


# --- my orders ------------------------------------------------------------------------------


async def test_my_orders_are_only_mine_newest_first(
    client: httpx.AsyncClient, bus: Bus, jwt_keys: KeyPair
) -> None:
    me = sign_in_as(client, jwt_keys)
    first, second, theirs = uuid4(), uuid4(), uuid4()
    await publish(
        bus,
        reservation(first, uuid4(), me.id),
        reservation(theirs, uuid4(), uuid4()),
        reservation(second, uuid4(), me.id),
    )

    async def two_orders() -> list[dict[str, Any]]:
        orders = await orders_of(client)
        assert len(orders) == 2
        return orders

    orders = await eventually(two_orders)
    assert [order["id"] for order in orders] == [str(second), str(first)]
    assert {order["payment"] for order in orders} == {None}


async def test_my_orders_need_a_session(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/query/orders")

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Not authorized"}]}


async def test_a_banned_user_cannot_see_their_orders(
    client: httpx.AsyncClient, bus: Bus, jwt_keys: KeyPair
) -> None:
    user = sign_in_as(client, jwt_keys, CurrentUser(id=uuid4(), email="troll@example.com"))

    await publish(bus, UserBanned(data=UserBannedData(user_id=user.id)))

    async def refused() -> None:
        assert (await client.get("/api/query/orders")).status_code == 401

    await eventually(refused)


# --- rebuild --------------------------------------------------------------------------------
