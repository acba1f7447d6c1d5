"""How an order ends: cancelled when the expiration worker says it expired, or completed when
paid; each transition published once."""

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from ticketing.common.auth import KeyPair
from ticketing.common.bus import Bus
from ticketing.common.events import (
    Event,
    ExpirationComplete,
    ExpirationCompleteData,
    OrderCancelled,
    OrderCompleted,
    PaymentCreated,
    PaymentCreatedData,
    TicketCreatedData,
)
from ticketing.orders.config import OrdersSettings
from ticketing.testkit.events import events_of, last_event, publish_event
from ticketing.testkit.http import eventually, sign_in_as

Handled = Callable[[Event], Awaitable[None]]
Order = dict[str, Any]


@pytest.fixture
async def orders_settings(
    service_settings: Callable[[str], Awaitable[dict[str, Any]]],
) -> OrdersSettings:
    """Orders are over their window (and grace) by the time the expiry event is handled, as
    when the expiration worker sends it; the sweep stays out of the way."""
    return OrdersSettings(
        **await service_settings("orders"),
        expiration_window_seconds=0.01,
        payment_grace_seconds=0,
        sweep_interval_seconds=3600,
    )


async def place(client: httpx.AsyncClient, jwt_keys: KeyPair, ticket_id: UUID) -> Order:
    sign_in_as(client, jwt_keys)
    response = await client.post("/api/orders", json={"ticketId": str(ticket_id)})
    assert response.status_code == 201
    order: Order = response.json()
    return order


async def status_of(client: httpx.AsyncClient, order: Order) -> str:
    return str((await client.get(f"/api/orders/{order['id']}")).json()["status"])


def expired(order: Order) -> ExpirationComplete:
    return ExpirationComplete(data=ExpirationCompleteData(order_id=UUID(order["id"])))


def paid(order: Order) -> PaymentCreated:
    return PaymentCreated(
        data=PaymentCreatedData(id=uuid4(), order_id=UUID(order["id"]), stripe_id="pi_test")
    )


async def test_expiration_cancels_an_unpaid_order_and_publishes_it(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData, bus: Bus
) -> None:
    order = await place(client, jwt_keys, ticket.id)

    await publish_event(bus, expired(order))

    event = await eventually(lambda: last_event(bus, OrderCancelled))
    assert event.to_json()["data"] == {
        "id": order["id"],
        "version": 1,
        "ticket": {"id": str(ticket.id)},
    }
    assert await status_of(client, order) == "cancelled"


async def test_expiration_leaves_a_paid_order_complete(
    client: httpx.AsyncClient,
    jwt_keys: KeyPair,
    ticket: TicketCreatedData,
    bus: Bus,
    handled: Handled,
) -> None:
    order = await place(client, jwt_keys, ticket.id)
    payment = paid(order)
    await publish_event(bus, payment)
    await handled(payment)

    expiry = expired(order)
    await publish_event(bus, expiry)

    await handled(expiry)
    assert await status_of(client, order) == "complete"
    assert await events_of(bus, OrderCancelled) == []


async def test_expiring_twice_publishes_one_cancellation(
    client: httpx.AsyncClient,
    jwt_keys: KeyPair,
    ticket: TicketCreatedData,
    bus: Bus,
    handled: Handled,
) -> None:
    order = await place(client, jwt_keys, ticket.id)
    first, second = expired(order), expired(order)  # two jobs, two event ids
    await publish_event(bus, first)
    await handled(first)

    await publish_event(bus, second)

    await handled(second)
    cancellations = await eventually(lambda: _exactly_one(bus, OrderCancelled))
    assert cancellations[0].data.version == 1


async def test_payment_completes_the_order_and_publishes_it(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData, bus: Bus
) -> None:
    order = await place(client, jwt_keys, ticket.id)

    await publish_event(bus, paid(order))

    event = await eventually(lambda: last_event(bus, OrderCompleted))
    assert event.to_json()["data"] == {
        "id": order["id"],
        "version": 1,
        "ticket": {"id": str(ticket.id)},
    }
    assert await status_of(client, order) == "complete"


async def test_a_completed_order_cannot_be_cancelled_by_its_owner(
    client: httpx.AsyncClient,
    jwt_keys: KeyPair,
    ticket: TicketCreatedData,
    bus: Bus,
    handled: Handled,
) -> None:
    order = await place(client, jwt_keys, ticket.id)
    payment = paid(order)
    await publish_event(bus, payment)
    await handled(payment)

    response = await client.delete(f"/api/orders/{order['id']}")

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Cannot cancel a completed order"}]}
    assert await status_of(client, order) == "complete"


async def test_a_payment_for_a_cancelled_order_leaves_it_cancelled(
    client: httpx.AsyncClient,
    jwt_keys: KeyPair,
    ticket: TicketCreatedData,
    bus: Bus,
    handled: Handled,
) -> None:
    order = await place(client, jwt_keys, ticket.id)
    await client.delete(f"/api/orders/{order['id']}")
    payment = paid(order)

    await publish_event(bus, payment)

    await handled(payment)  # handled (and acked), not retried: payments refunds it
    assert await status_of(client, order) == "cancelled"
    assert await events_of(bus, OrderCompleted) == []


async def _exactly_one(bus: Bus, event_class: type[OrderCancelled]) -> list[OrderCancelled]:
    found = await events_of(bus, event_class)
    assert len(found) == 1, f"{len(found)} {event_class.TYPE} events"
    return found
