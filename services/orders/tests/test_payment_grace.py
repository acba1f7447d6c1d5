"""The payment grace (DESIGN §3 money rules, §5): orders never cancels an order for expiry
before ``expiresAt`` + ``ORDERS_PAYMENT_GRACE_SECONDS`` by its own clock, whatever the
expiration worker says; after that moment the expiry cancels it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

import httpx
import pytest

from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.events import (
    ExpirationComplete,
    ExpirationCompleteData,
    OrderCancelled,
    TicketCreatedData,
)
from ticketing.orders.config import OrdersSettings
from ticketing.testkit.events import events_of, last_event, publish_event
from ticketing.testkit.http import eventually

if TYPE_CHECKING:
    from conftest import Order, OrdersSettingsWith

GRACE = timedelta(seconds=4)


@pytest.fixture
async def orders_settings(orders_settings_with: OrdersSettingsWith) -> OrdersSettings:
    """A short window and grace; no sweep, so only expiration.complete can cancel. The early
    event keeps coming back until the moment: enough deliveries for that wait."""
    return await orders_settings_with(
        expiration_window_seconds=0.5,
        payment_grace_seconds=GRACE.total_seconds(),
        sweep_interval_seconds=3600,
        consumer_max_deliver=200,
    )


async def handled_once(bus: Bus) -> None:
    """Orders has been through the expiry at least once: given it back, or acknowledged it."""
    info = await bus.js.consumer_info(bus.names.stream, "orders")
    acknowledged = (info.num_pending, info.num_ack_pending) == (0, 0)
    assert info.num_redelivered >= 1 or acknowledged, "the expiry is not handled yet"


async def test_an_early_expiration_leaves_the_order_created_until_expires_at_plus_grace(
    client: httpx.AsyncClient, ticket: TicketCreatedData, order: Order, bus: Bus
) -> None:
    cancellable_from = datetime.fromisoformat(order["expiresAt"]) + GRACE
    early = ExpirationComplete(data=ExpirationCompleteData(order_id=UUID(order["id"])))

    await publish_event(bus, early)  # a worker with a fast clock, or no grace configured

    await eventually(lambda: handled_once(bus))
    seen_at = utcnow()
    status = (await client.get(f"/api/orders/{order['id']}")).json()["status"]
    assert seen_at < cancellable_from, "too slow to observe the order inside its grace"
    assert status == "created"
    assert await events_of(bus, OrderCancelled) == []

    cancelled = await eventually(lambda: last_event(bus, OrderCancelled), timeout=20)
    assert cancelled.data.id == UUID(order["id"])
    assert cancelled.occurred_at > cancellable_from
    assert (await client.get(f"/api/orders/{order['id']}")).json()["status"] == "cancelled"
