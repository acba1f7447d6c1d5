"""How an order ends: cancelled when the expiration worker says it expired, or completed when
paid; each transition published once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from uuid import UUID

import httpx
import pytest

from ticketing.common.bus import Bus
from ticketing.common.events import (
    ExpirationComplete,
    ExpirationCompleteData,
    OrderCancelled,
    OrderCompleted,
    PaymentCreated,
    TicketCreatedData,
)
from ticketing.orders.config import OrdersSettings
from ticketing.testkit.events import events_of, last_event, payment_created, publish_event
from ticketing.testkit.http import assert_refused, eventually

if TYPE_CHECKING:
    from conftest import Handled, Order, OrdersSettingsWith


@pytest.fixture
async def orders_settings(orders_settings_with: OrdersSettingsWith) -> OrdersSettings:
    """Orders are over their window (and grace) by the time the expiry event is handled, as
    when the expiration worker sends it; the sweep stays out of the way."""
    return await orders_settings_with(
        expiration_window_seconds=0.01,
        payment_grace_seconds=0,
        sweep_interval_seconds=3600,
    )


async def status_of(client: httpx.AsyncClient, order: Order) -> str:
    return str((await client.get(f"/api/orders/{order['id']}")).json()["status"])


def expired(order: Order) -> ExpirationComplete:
    return ExpirationComplete(data=ExpirationCompleteData(order_id=UUID(order["id"])))


def paid(order: Order) -> PaymentCreated:
    return payment_created(UUID(order["id"]))


def first_change(order: Order, ticket: TicketCreatedData) -> dict[str, object]:
    """The data of the order.cancelled or order.completed that ends a new order."""
    return {"id": order["id"], "version": 1, "ticket": {"id": str(ticket.id)}}


@pytest.mark.parametrize(
    ("ending", "published", "status"),
    [(expired, OrderCancelled, "cancelled"), (paid, OrderCompleted, "complete")],
    ids=["expiry-cancels", "payment-completes"],
)
async def test_expiry_or_payment_ends_a_new_order_and_publishes_how(
    client: httpx.AsyncClient,
    ticket: TicketCreatedData,
    order: Order,
    bus: Bus,
    ending: Callable[[Order], ExpirationComplete | PaymentCreated],
    published: type[OrderCancelled | OrderCompleted],
    status: str,
) -> None:
    await publish_event(bus, ending(order))

    event = await eventually(lambda: last_event(bus, published))
    assert event.to_json()["data"] == first_change(order, ticket)
    assert await status_of(client, order) == status


async def test_expiration_leaves_a_paid_order_complete(
    client: httpx.AsyncClient, order: Order, bus: Bus, deliver: Handled
) -> None:
    await deliver(paid(order))

    await deliver(expired(order))

    assert await status_of(client, order) == "complete"
    assert await events_of(bus, OrderCancelled) == []


async def test_expiring_twice_publishes_one_cancellation(
    order: Order, bus: Bus, deliver: Handled
) -> None:
    await deliver(expired(order))

    await deliver(expired(order))  # two jobs, two event ids

    cancellations = await eventually(lambda: _exactly_one(bus, OrderCancelled))
    assert cancellations[0].data.version == 1


async def test_a_completed_order_cannot_be_cancelled_by_its_owner(
    client: httpx.AsyncClient, order: Order, deliver: Handled
) -> None:
    await deliver(paid(order))

    response = await client.delete(f"/api/orders/{order['id']}")

    assert_refused(response, 400, "Cannot cancel a completed order")
    assert await status_of(client, order) == "complete"


async def test_a_payment_for_a_cancelled_order_leaves_it_cancelled(
    client: httpx.AsyncClient, order: Order, bus: Bus, deliver: Handled
) -> None:
    await client.delete(f"/api/orders/{order['id']}")

    await deliver(paid(order))  # handled (and acked), not retried: payments refunds it

    assert await status_of(client, order) == "cancelled"
    assert await events_of(bus, OrderCompleted) == []


async def _exactly_one(bus: Bus, event_class: type[OrderCancelled]) -> list[OrderCancelled]:
    found = await events_of(bus, event_class)
    assert len(found) == 1, f"{len(found)} {event_class.TYPE} events"
    return found
