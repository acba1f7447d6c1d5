"""Payments' replica of orders follows order.* events in version order; bans are recorded."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import uuid4

import httpx

from ticketing.testkit.events import order_cancelled, order_completed, order_created, publish_event
from ticketing.testkit.http import eventually

if TYPE_CHECKING:
    from conftest import World


async def test_a_cancellation_arriving_before_its_order_is_applied_once_the_order_arrives(
    client: httpx.AsyncClient, world: World
) -> None:
    order = order_created(uuid4(), price=Decimal("19.99"))

    await publish_event(world.bus, order_cancelled(order))
    await publish_event(world.bus, order)

    await eventually(lambda: world.order_is(order.data.id, "cancelled", 1))


async def test_a_completed_order_is_no_longer_payable_and_a_stale_event_changes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    order = await world.an_order(uuid4())
    completed = order_completed(order)
    await publish_event(world.bus, completed)
    await eventually(lambda: world.order_is(order.data.id, "complete", 1))

    await publish_event(world.bus, order_cancelled(order))  # version 1 again: a stale event
    await publish_event(world.bus, order, msg_id=str(uuid4()))  # order.created redelivered
    await publish_event(world.bus, completed, msg_id=str(uuid4()))  # a marker behind them

    async def all_handled() -> None:
        info = await world.bus.js.consumer_info(world.bus.names.stream, "payments")
        assert info.num_pending == 0
        assert info.num_ack_pending == 0

    await eventually(all_handled)
    await world.order_is(order.data.id, "complete", 1)
