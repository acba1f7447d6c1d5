"""A payment that is on its way always wins over the expiry (DESIGN §3 money rules, §5).

Take a replica that is killed while it holds the order's ``payment.created``. The message stays
unacknowledged until the durable's ack deadline, and that deadline can pass after ``expiresAt``
+ the grace. The other replica's sweep and its expiry handler must leave the order alone until
the payment is redelivered and completes it.

The killed replica is a real member of orders' durable. It is a NATS connection of the test's,
bound to the durable while no replica runs, so the payment goes to it and to nothing else. It
fetches the payment and drops its connection without acknowledging it. To JetStream this is
exactly a replica killed with the message in hand.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

import httpx
import nats
import pytest

from ticketing.common.auth import KeyPair
from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.events import (
    ExpirationComplete,
    ExpirationCompleteData,
    OrderCancelled,
    OrderCompleted,
    PaymentCreated,
    PaymentCreatedData,
    TicketCreated,
    TicketCreatedData,
)
from ticketing.orders.app import create_app
from ticketing.orders.config import OrdersSettings
from ticketing.orders.payments_in_flight import PaymentsInFlight
from ticketing.testkit.events import events_of, last_event, publish_event
from ticketing.testkit.http import eventually, running_app, sign_in_as

if TYPE_CHECKING:
    from conftest import Order, OrdersSettingsWith

GRACE = timedelta(seconds=1)
ACK_WAIT_SECONDS = 6.0  # how long the killed replica's payment stays out of reach


def settings_where(
    cancels: str, orders_settings_with: OrdersSettingsWith
) -> Awaitable[OrdersSettings]:
    """Orders expire at once; the sweep runs five times a second, or never when only the
    expiry handler is under test. The killed replica's payment comes back only when the ack
    deadline passes, well after expiresAt + grace."""
    return orders_settings_with(
        expiration_window_seconds=0.5,
        payment_grace_seconds=GRACE.total_seconds(),
        sweep_interval_seconds=0.2 if cancels == "sweep" else 3600,
        consumer_ack_wait_seconds=ACK_WAIT_SECONDS,
        consumer_max_deliver=200,
    )


async def killed_while_holding(bus: Bus, payment: PaymentCreated) -> None:
    """Publish ``payment`` and let a member of orders' durable take it and die unacked."""
    holder = await nats.connect(bus.url)
    try:
        subscription = await holder.jetstream().pull_subscribe_bind(
            durable="orders", stream=bus.names.stream
        )
        await publish_event(bus, payment)
        taken = await subscription.fetch(batch=1, timeout=5)
        assert [m.subject for m in taken] == [bus.names.subject(PaymentCreated.TYPE)]
    finally:
        await holder.close()  # no ack, no nak: as a SIGKILL leaves it


async def placed_order(replica: httpx.AsyncClient, bus: Bus) -> Order:
    """A ticket published as the tickets service would, ordered once orders has it."""
    ticket = TicketCreatedData(
        id=uuid4(), title="Concert", price=Decimal("20"), user_id=uuid4(), version=0
    )
    await publish_event(bus, TicketCreated(data=ticket))

    async def place() -> Order:
        response = await replica.post("/api/orders", json={"ticketId": str(ticket.id)})
        assert response.status_code == 201, response.text
        order: Order = response.json()
        return order

    return await eventually(place)


async def status_of(replica: httpx.AsyncClient, order: Order) -> str:
    status: str = (await replica.get(f"/api/orders/{order['id']}")).json()["status"]
    return status


async def past(moment: datetime) -> None:
    assert utcnow() > moment, f"not {moment} yet"


@pytest.mark.parametrize("cancels", ["sweep", "expiry"])
async def test_a_payment_held_by_a_killed_replica_completes_its_order_past_the_grace(
    cancels: str, orders_settings_with: OrdersSettingsWith, bus: Bus, jwt_keys: KeyPair
) -> None:
    settings = await settings_where(cancels, orders_settings_with)
    async with running_app(create_app(settings)) as first:
        buyer = sign_in_as(first, jwt_keys)
        order = await placed_order(first, bus)
    # No replica runs now, so the one the test plays is the only member of the durable.
    order_id = UUID(order["id"])
    deadline = datetime.fromisoformat(order["expiresAt"]) + GRACE
    payment = PaymentCreated(
        data=PaymentCreatedData(id=uuid4(), order_id=order_id, stripe_id="pi_in_time")
    )
    await killed_while_holding(bus, payment)
    survivor_app = create_app(settings)
    payments: PaymentsInFlight = survivor_app.state.runtime.context

    async with running_app(survivor_app) as survivor:
        sign_in_as(survivor, jwt_keys, buyer)
        await eventually(lambda: past(deadline))
        await publish_event(bus, ExpirationComplete(data=ExpirationCompleteData(order_id=order_id)))
        watched_until = utcnow() + timedelta(seconds=1)  # the expiry back three times meanwhile
        while utcnow() < watched_until:
            assert await status_of(survivor, order) == "created"
        assert order_id in await payments.orders(since=utcnow())

        completed = await eventually(lambda: last_event(bus, OrderCompleted), timeout=20)

        assert completed.data.id == order_id
        assert await status_of(survivor, order) == "complete"
        assert await events_of(bus, OrderCancelled) == []
        assert await payments.orders(since=utcnow()) == frozenset()
