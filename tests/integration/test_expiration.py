"""Unpaid orders expire across the platform: by the expiration worker, or by orders' sweep when
the worker never speaks. (Payments racing the expiry: test_money.py.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ticketing.testkit.http import assert_refused, eventually

if TYPE_CHECKING:
    from platform_testing import Platform


async def ticket_is_free(platform: Platform, ticket_id: str) -> None:
    assert (await platform.ticket(ticket_id))["orderId"] is None


@pytest.mark.platform(
    expiration_window_seconds=2, expiration_worker=True, sweep_interval_seconds=3600
)
async def test_an_unpaid_order_expires_and_frees_its_ticket(platform: Platform) -> None:
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    ticket = await seller.sell()
    order = await buyer.order_once_orderable(ticket["id"])

    await eventually(lambda: buyer.order_status_is(order["id"], "cancelled"), timeout=8)

    await eventually(lambda: ticket_is_free(platform, ticket["id"]))
    await eventually(lambda: platform.payments_order_is(order["id"], "cancelled"))
    refused = await buyer.pay(order["id"], "tok_visa")
    assert_refused(refused, 400, "Cannot pay for a cancelled order")
    assert await platform.charges_for(order["id"]) == []
    await buyer.order_once_orderable(ticket["id"])  # for sale again


@pytest.mark.platform(
    expiration_window_seconds=0.5,
    expiration_worker=False,
    sweep_interval_seconds=0.2,
    payment_grace_seconds=0.3,
)
async def test_the_sweep_cancels_an_overdue_order_when_no_expiry_arrives(
    platform: Platform,
) -> None:
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    ticket = await seller.sell()

    order = await buyer.order_once_orderable(ticket["id"])

    await eventually(lambda: buyer.order_status_is(order["id"], "cancelled"), timeout=6)
    await eventually(lambda: ticket_is_free(platform, ticket["id"]))
