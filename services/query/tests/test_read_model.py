"""The read model, fed by events published straight onto the bus, read through the API."""

import asyncio
import os
import sys
from asyncio.subprocess import PIPE
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx

from ticketing.common.auth import CurrentUser, KeyPair
from ticketing.common.bus import Bus
from ticketing.common.events import (
    EVENT_TYPES,
    Event,
    ExpirationComplete,
    ExpirationCompleteData,
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
from ticketing.query.config import QuerySettings
from ticketing.query.listeners import SUBSCRIPTIONS
from ticketing.query.rebuild import rebuild_read_model
from ticketing.testkit.events import (
    order_cancelled,
    order_completed,
    order_created,
    payment_created,
    publish_event,
)
from ticketing.testkit.http import eventually, sign_in_as

SELLER = uuid4()
Rows = dict[str, list[tuple[Any, ...]]]
ReadModel = Callable[[], Awaitable[Rows]]


# --- events, as the owning services would publish them -------------------------------------


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


def test_every_event_of_the_platform_feeds_the_read_model() -> None:
    assert set(SUBSCRIPTIONS) == set(EVENT_TYPES.values())


# --- the listing page -----------------------------------------------------------------------


async def test_listings_filter_by_status_newest_first_in_pages(
    client: httpx.AsyncClient, bus: Bus
) -> None:
    older, newer, taken = uuid4(), uuid4(), uuid4()
    await publish(bus, ticket_created(older), ticket_created(newer), ticket_created(taken))
    await publish(bus, reservation(uuid4(), taken, uuid4()))
    await listing(client, taken, status="reserved")
    await listing(client, newer, status="available")

    everything = (await client.get("/api/query/tickets")).json()
    first = (await client.get("/api/query/tickets?status=available&limit=1")).json()
    second = (await client.get("/api/query/tickets?status=available&limit=1&offset=1")).json()
    reserved = (await client.get("/api/query/tickets?status=reserved")).json()

    assert (everything["total"], everything["limit"], everything["offset"]) == (3, 20, 0)
    assert [item["id"] for item in everything["items"]] == [str(taken), str(newer), str(older)]
    assert (first["total"], first["limit"], first["offset"]) == (2, 1, 0)
    assert [item["id"] for item in first["items"] + second["items"]] == [str(newer), str(older)]
    assert second["offset"] == 1
    assert [item["id"] for item in reserved["items"]] == [str(taken)]


async def test_an_unknown_status_filter_is_a_400_naming_status(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/query/tickets?status=gone")

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["status"]


async def test_a_page_size_outside_1_to_100_is_a_400(client: httpx.AsyncClient) -> None:
    for limit in (0, 101):
        response = await client.get(f"/api/query/tickets?limit={limit}")

        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "limit"


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


async def test_a_rebuild_reproduces_the_live_read_model(
    client: httpx.AsyncClient, bus: Bus, query_settings: QuerySettings, read_model: ReadModel
) -> None:
    sold, freed, edited, plain, user = uuid4(), uuid4(), uuid4(), uuid4(), uuid4()
    sale, cancelled = uuid4(), uuid4()
    sale_order, dropped = reservation(sale, sold, user), reservation(cancelled, freed, user)
    events: list[Event] = [
        UserCreated(data=UserCreatedData(id=user, email="buyer@example.com")),
        payment_created(sale),  # before its order
        sale_order,  # before its ticket
        ticket_created(sold),
        ticket_updated(sold, 1, order_id=sale),
        order_completed(sale_order),
        ticket_created(freed),
        dropped,
        ticket_updated(freed, 1, order_id=cancelled),
        order_cancelled(dropped),
        ticket_updated(freed, 2),
        ticket_created(edited),
        ticket_updated(edited, 2, title="v2"),  # before v1, on the stream too
        ticket_updated(edited, 1, title="v1"),
        UserBanned(data=UserBannedData(user_id=uuid4())),
        ticket_created(plain),
    ]
    await publish(bus, *events)
    await publish_event(bus, events[4], msg_id=str(uuid4()))  # a redelivery on the stream

    async def all_applied() -> Rows:
        rows = await read_model()
        assert {event.id for event in events} <= {row[0] for row in rows["processed_events"]}
        return rows

    live = await eventually(all_applied)
    report = await rebuild_read_model(query_settings)

    rebuilt = await read_model()
    for table, rows in live.items():  # table by table, so a failure shows the rows that differ
        assert (
            sorted(set(rebuilt[table]) - set(rows)),
            sorted(set(rows) - set(rebuilt[table])),
        ) == (
            [],
            [],
        ), table
    replayed = len(live["processed_events"])  # ours, and the marker of the client fixture
    assert (report.replayed, report.duplicates, report.unresolved) == (replayed, 1, [])
    statuses = {row[0]: row[6] for row in live["listings"]}
    assert statuses == {sold: "sold", freed: "available", edited: "available", plain: "available"}


async def test_a_rebuild_reports_events_whose_predecessor_never_came(
    bus: Bus, query_settings: QuerySettings
) -> None:
    ticket_id = uuid4()
    gap = ticket_updated(ticket_id, 3)
    await publish(bus, ticket_created(ticket_id), gap, ticket_updated(ticket_id, 1))

    report = await rebuild_read_model(query_settings)

    assert (report.replayed, report.unresolved) == (2, [gap])


async def test_the_rebuild_command_replays_the_stream(
    bus: Bus, query_settings: QuerySettings, read_model: ReadModel
) -> None:
    await publish(
        bus, ticket_created(uuid4()), UserCreated(data=UserCreatedData(id=uuid4(), email="a@b.co"))
    )
    env = {
        **os.environ,
        "QUERY_ENVIRONMENT": "test",
        "QUERY_DATABASE_URL": query_settings.database_url,
        "QUERY_NATS_URL": query_settings.nats_url,
        "QUERY_BUS_NAMESPACE": query_settings.bus_namespace,
        "QUERY_JWT_PUBLIC_KEY": query_settings.jwt_public_key,
    }

    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ticketing.query", "rebuild", env=env, stdout=PIPE, stderr=PIPE
    )
    stdout, stderr = await command.communicate()

    assert command.returncode == 0, stderr.decode()
    assert stdout.decode().startswith("replayed 2 events (0 duplicates")
    assert len((await read_model())["listings"]) == 1
