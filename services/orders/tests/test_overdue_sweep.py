"""The sweep: the safety net that cancels overdue orders when no expiration.complete comes,
at the same moment as the expiry would (``expiresAt`` + the payment grace), never before."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import pytest

from ticketing.common.bus import Bus
from ticketing.common.events import OrderCancelled, TicketCreatedData
from ticketing.orders.config import OrdersSettings
from ticketing.testkit.events import last_event
from ticketing.testkit.http import eventually

if TYPE_CHECKING:
    from conftest import Order, OrdersSettingsWith

GRACE = timedelta(seconds=1)


@pytest.fixture
async def orders_settings(orders_settings_with: OrdersSettingsWith) -> OrdersSettings:
    """Orders expire almost at once and are swept often; no expiration worker runs at all."""
    return await orders_settings_with(
        expiration_window_seconds=0.2,
        payment_grace_seconds=GRACE.total_seconds(),
        sweep_interval_seconds=0.1,
    )


async def test_the_sweep_cancels_an_overdue_order_and_publishes_it(
    client: httpx.AsyncClient, ticket: TicketCreatedData, order: Order, bus: Bus
) -> None:

    event = await eventually(lambda: last_event(bus, OrderCancelled))

    assert event.occurred_at > datetime.fromisoformat(order["expiresAt"]) + GRACE
    assert event.to_json()["data"] == {
        "id": order["id"],
        "version": 1,
        "ticket": {"id": str(ticket.id)},
    }
    cancelled = (await client.get(f"/api/orders/{order['id']}")).json()
    assert (cancelled["status"], cancelled["version"]) == ("cancelled", 1)
