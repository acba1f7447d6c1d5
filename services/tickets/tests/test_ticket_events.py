"""What tickets tells the platform (ticket.created / ticket.updated on the stream) and how it
reacts to orders (reserve, free) and bans, through the real bus."""

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx
from nats.js.errors import NotFoundError

from ticketing.common.auth import CurrentUser
from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.events import (
    OrderCancelled,
    OrderChangedData,
    OrderCreated,
    OrderCreatedData,
    OrderCreatedTicket,
    OrderTicketRef,
    TicketCreated,
    TicketUpdated,
    UserBanned,
    UserBannedData,
)
from ticketing.testkit.events import events_of, last_event, publish_event
from ticketing.testkit.http import eventually


async def sell(client: httpx.AsyncClient, title: str = "Concert", price: float = 20) -> Any:
    response = await client.post("/api/tickets", json={"title": title, "price": price})
    assert response.status_code == 201, response.text
    return response.json()


def order_created(ticket: dict[str, Any], order_id: UUID | None = None) -> OrderCreated:
    return OrderCreated(
        data=OrderCreatedData(
            id=order_id or uuid4(),
            status="created",
            user_id=uuid4(),
            expires_at=utcnow() + timedelta(minutes=15),
            version=0,
            ticket=OrderCreatedTicket(id=ticket["id"], price=Decimal(str(ticket["price"]))),
        )
    )


def order_cancelled(ticket: dict[str, Any], order_id: UUID) -> OrderCancelled:
    return OrderCancelled(
        data=OrderChangedData(id=order_id, version=1, ticket=OrderTicketRef(id=ticket["id"]))
    )


async def ticket_state(client: httpx.AsyncClient, ticket_id: str) -> Any:
    response = await client.get(f"/api/tickets/{ticket_id}")
    assert response.status_code == 200
    return response.json()


async def reserve(client: httpx.AsyncClient, bus: Bus, ticket: dict[str, Any]) -> UUID:
    """Reserve ``ticket`` as orders would, and wait until tickets has applied it."""
    event = order_created(ticket)
    await publish_event(bus, event)

    async def reserved() -> None:
        assert (await ticket_state(client, ticket["id"]))["orderId"] == str(event.data.id)

    await eventually(reserved)
    return event.data.id


async def consumer_caught_up(bus: Bus) -> None:
    """Every order/user event on the stream has been handled and acked by tickets."""
    try:
        info = await bus.js.consumer_info(bus.names.stream, "tickets")
    except NotFoundError as exc:
        raise AssertionError("the tickets consumer does not exist yet") from exc
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


async def updates_of(bus: Bus, ticket_id: str) -> list[dict[str, Any]]:
    return [
        e.data.to_json() for e in await events_of(bus, TicketUpdated) if str(e.data.id) == ticket_id
    ]


async def test_listing_a_ticket_publishes_ticket_created(
    client: httpx.AsyncClient, seller: CurrentUser, bus: Bus
) -> None:
    ticket = await sell(client, "Concert", 19.99)

    event = await eventually(lambda: last_event(bus, TicketCreated))

    assert event.data.to_json() == {
        "id": ticket["id"],
        "title": "Concert",
        "price": 19.99,
        "userId": str(seller.id),
        "version": 0,
    }


async def test_editing_a_ticket_publishes_ticket_updated_with_the_new_version(
    client: httpx.AsyncClient, seller: CurrentUser, bus: Bus
) -> None:
    ticket = await sell(client)

    await client.put(f"/api/tickets/{ticket['id']}", json={"title": "Opera", "price": 35.5})
    await client.put(f"/api/tickets/{ticket['id']}", json={"title": "Ballet", "price": 12})

    async def both_published() -> list[dict[str, Any]]:
        updates = await updates_of(bus, ticket["id"])
        assert len(updates) == 2
        return updates

    first, second = await eventually(both_published)
    assert first == {**ticket, "title": "Opera", "price": 35.5, "version": 1}
    assert second == {**ticket, "title": "Ballet", "price": 12, "version": 2}


async def test_an_order_reserves_the_ticket(
    client: httpx.AsyncClient, seller: CurrentUser, bus: Bus
) -> None:
    ticket = await sell(client)

    order_id = await reserve(client, bus, ticket)

    assert await ticket_state(client, ticket["id"]) == {
        **ticket,
        "orderId": str(order_id),
        "version": 1,
    }
    update = await eventually(lambda: last_event(bus, TicketUpdated))
    assert update.data.to_json() == {**ticket, "orderId": str(order_id), "version": 1}


async def test_only_unreserved_tickets_are_for_sale(
    client: httpx.AsyncClient, seller: CurrentUser, bus: Bus
) -> None:
    reserved, free = await sell(client, "Reserved"), await sell(client, "Free")

    await reserve(client, bus, reserved)

    assert (await client.get("/api/tickets")).json() == [free]


async def test_cannot_edit_a_reserved_ticket(
    client: httpx.AsyncClient, seller: CurrentUser, bus: Bus
) -> None:
    ticket = await sell(client)
    await reserve(client, bus, ticket)

    response = await client.put(f"/api/tickets/{ticket['id']}", json={"title": "x", "price": 1})

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Cannot edit a reserved ticket"}]}
    assert (await ticket_state(client, ticket["id"]))["title"] == ticket["title"]


async def test_a_cancelled_order_frees_the_ticket_and_bumps_its_version(
    client: httpx.AsyncClient, seller: CurrentUser, bus: Bus
) -> None:
    ticket = await sell(client)
    order_id = await reserve(client, bus, ticket)

    await publish_event(bus, order_cancelled(ticket, order_id))

    async def freed() -> None:
        assert await ticket_state(client, ticket["id"]) == {**ticket, "version": 2}

    await eventually(freed)
    assert (await client.get("/api/tickets")).json() == [{**ticket, "version": 2}]
    updates = await eventually(lambda: _updates_count(bus, ticket["id"], 2))
    assert updates[-1] == {**ticket, "version": 2, "orderId": None}


async def _updates_count(bus: Bus, ticket_id: str, count: int) -> list[dict[str, Any]]:
    updates = await updates_of(bus, ticket_id)
    assert len(updates) == count
    return updates


async def test_cancelling_an_order_that_does_not_hold_the_ticket_changes_nothing(
    client: httpx.AsyncClient, seller: CurrentUser, bus: Bus
) -> None:
    ticket = await sell(client)
    order_id = await reserve(client, bus, ticket)

    await publish_event(bus, order_cancelled(ticket, uuid4()))
    await eventually(lambda: consumer_caught_up(bus))

    state = await ticket_state(client, ticket["id"])
    assert (state["orderId"], state["version"]) == (str(order_id), 1)


async def test_the_same_order_created_delivered_twice_reserves_once(
    client: httpx.AsyncClient, seller: CurrentUser, bus: Bus
) -> None:
    ticket = await sell(client)
    event = order_created(ticket)

    await publish_event(bus, event)
    await publish_event(bus, event, msg_id=f"redelivery-{uuid4()}")  # past the bus's dedupe
    await eventually(lambda: consumer_caught_up(bus))

    state = await ticket_state(client, ticket["id"])
    assert (state["orderId"], state["version"]) == (str(event.data.id), 1)
    updates = await eventually(lambda: _updates_count(bus, ticket["id"], 1))
    assert updates[0]["version"] == 1


async def test_a_second_order_created_for_the_same_order_changes_nothing(
    client: httpx.AsyncClient, seller: CurrentUser, bus: Bus
) -> None:
    ticket = await sell(client)
    order_id = await reserve(client, bus, ticket)

    await publish_event(bus, order_created(ticket, order_id))  # same order, new event id
    await eventually(lambda: consumer_caught_up(bus))

    assert (await ticket_state(client, ticket["id"]))["version"] == 1


async def test_a_banned_user_can_no_longer_sell(
    client: httpx.AsyncClient, seller: CurrentUser, bus: Bus
) -> None:
    await sell(client)

    await publish_event(bus, UserBanned(data=UserBannedData(user_id=seller.id)))

    async def refused() -> None:
        response = await client.post("/api/tickets", json={"title": "Spam", "price": 1})
        assert response.status_code == 401

    await eventually(refused)


async def test_an_order_for_a_ticket_still_held_by_a_cancelled_order_waits_for_the_cancel(
    client: httpx.AsyncClient, seller: CurrentUser, bus: Bus
) -> None:
    ticket = await sell(client)
    first_order = await reserve(client, bus, ticket)
    second = order_created(ticket)

    await publish_event(bus, second)  # arrives before the first order's cancellation
    await publish_event(bus, order_cancelled(ticket, first_order))

    async def held_by_the_second_order() -> None:
        state = await ticket_state(client, ticket["id"])
        assert (state["orderId"], state["version"]) == (str(second.data.id), 3)

    await eventually(held_by_the_second_order)


async def test_an_order_created_arriving_after_its_own_cancellation_does_not_reserve(
    client: httpx.AsyncClient, seller: CurrentUser, bus: Bus
) -> None:
    ticket = await sell(client)
    created = order_created(ticket)
    # A retried order.created can be delivered after the order.cancelled that followed it.
    await publish_event(bus, order_cancelled(ticket, created.data.id))
    await eventually(lambda: consumer_caught_up(bus))

    await publish_event(bus, created)
    await eventually(lambda: consumer_caught_up(bus))

    state = await ticket_state(client, ticket["id"])
    assert (state["orderId"], state["version"]) == (None, 0)
