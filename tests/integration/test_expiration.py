"""Unpaid orders expire across the platform: by the expiration worker, or by orders' sweep when
the worker never speaks; and a payment racing the expiry never leaves money and order apart."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

import httpx
import pytest

from ticketing.common.contracts import utcnow
from ticketing.common.testing.http import eventually

if TYPE_CHECKING:
    from conftest import Browser, Platform


async def order_status_is(buyer: Browser, order_id: str, status: str) -> None:
    assert (await buyer.order(order_id))["status"] == status


async def ticket_is_free(platform: Platform, ticket_id: str) -> None:
    assert (await platform.ticket(ticket_id))["orderId"] is None


async def payments_knows(platform: Platform, order_id: str, status: str) -> None:
    assert await platform.payments_order_status(order_id) == status


@pytest.mark.platform(
    expiration_window_seconds=2, expiration_worker=True, sweep_interval_seconds=3600
)
async def test_an_unpaid_order_expires_and_frees_its_ticket(platform: Platform) -> None:
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    ticket = await seller.sell()
    order = await buyer.order_once_orderable(ticket["id"])

    await eventually(lambda: order_status_is(buyer, order["id"], "cancelled"), timeout=8)

    await eventually(lambda: ticket_is_free(platform, ticket["id"]))
    await eventually(lambda: payments_knows(platform, order["id"], "cancelled"))
    refused = await buyer.pay(order["id"], "tok_visa")
    assert refused.status_code == 400
    assert refused.json() == {"errors": [{"message": "Cannot pay for a cancelled order"}]}
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

    await eventually(lambda: order_status_is(buyer, order["id"], "cancelled"), timeout=6)
    await eventually(lambda: ticket_is_free(platform, ticket["id"]))


# Offsets from expiresAt at which the buyer presses Pay: well before, around, and after the
# expiry is handled (the worker polls every 0.1 s, then orders and payments hear of it).
PAY_OFFSETS_SECONDS = (-0.4, -0.2, -0.1, -0.05, 0.0, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.5)


@pytest.mark.platform(expiration_window_seconds=1.5, expiration_worker=True)
async def test_a_payment_racing_the_expiry_is_kept_or_refunded_never_half(
    platform: Platform,
) -> None:
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    tickets = [await seller.sell(f"Seat {n}") for n in range(len(PAY_OFFSETS_SECONDS))]

    outcomes = await asyncio.gather(
        *(
            pay_around_expiry(platform, buyer, t["id"], offset)
            for t, offset in zip(tickets, PAY_OFFSETS_SECONDS, strict=True)
        )
    )

    async def every_order_consistent() -> None:
        problems = [await inconsistency(platform, buyer, *outcome) for outcome in outcomes]
        assert not any(problems), "\n".join(p for p in problems if p)

    await eventually(every_order_consistent, timeout=5)


async def pay_around_expiry(
    platform: Platform, buyer: Browser, ticket_id: str, offset: float
) -> tuple[str, httpx.Response]:
    order = await buyer.order_once_orderable(ticket_id)
    await eventually(lambda: payments_knows(platform, order["id"], "created"))
    expires_at = datetime.fromisoformat(order["expiresAt"].replace("Z", "+00:00"))
    # Waiting for a moment in time is the point of this test, not a stand-in for a condition.
    await asyncio.sleep(max(0.0, (expires_at - utcnow()).total_seconds() + offset))
    return order["id"], await buyer.pay(order["id"], "tok_visa")


async def inconsistency(
    platform: Platform, buyer: Browser, order_id: str, response: httpx.Response
) -> str | None:
    """What is wrong with the order's end state, if anything: paid and kept (the buyer told
    201), or cancelled with every charge refunded (told 400, or 201 then refunded: a payment
    recorded just before the expiry cancelled the order can only be compensated)."""
    status = (await buyer.order(order_id))["status"]
    charges = await platform.charges_for(order_id)
    kept = [c["payment_intent"] for c in charges if c["amount_refunded"] == 0]
    refunded = [c for c in charges if c["amount_refunded"] == c["amount"]]
    told = (response.status_code, response.json())
    state = f"order {order_id} {status}, kept charges {kept}, buyer told {told}"
    cancelled = (400, {"errors": [{"message": "Cannot pay for a cancelled order"}]})
    compensated = response.status_code == 201 and bool(refunded)
    if status == "complete" and len(kept) == 1 and len(refunded) == len(charges) - 1:
        return None if response.status_code == 201 else f"{state}: paid, buyer told otherwise"
    if status == "cancelled" and not kept and len(refunded) == len(charges):
        if told == cancelled or compensated:
            return None
        return f"{state}: refunded, buyer told otherwise"
    return f"{state}: money and order disagree"
