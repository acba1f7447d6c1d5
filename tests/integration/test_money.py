"""Money across the platform (DESIGN §3 money rules, §5): payments decides the deadline by its
own clock, a payment accepted in time completes the order even when orders is down around the
deadline, racing payments and expiries never keep a charge for an order that is not complete,
and a 3-D Secure purchase completes only once the buyer has authenticated.

Every test ends on the invariant (``ticketing.testkit.money_invariant``): once the
platform has settled, the charges the Stripe sandbox keeps for each order are 1 if the order
is complete in orders, else 0.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import pytest

from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.dlq import list_dead_letters
from ticketing.testkit.http import eventually

if TYPE_CHECKING:
    from platform_testing import Browser, Platform

EXPIRED = {"errors": [{"message": "Order has expired"}]}
CANCELLED = {"errors": [{"message": "Cannot pay for a cancelled order"}]}


def expires_at(order: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(order["expiresAt"]).replace("Z", "+00:00"))


async def until(moment: datetime) -> None:
    """Wait for a moment in time: in these tests the clock is the point, not a condition."""
    await asyncio.sleep(max(0.0, (moment - utcnow()).total_seconds()))


async def settled(platform: Platform, *, timeout: float = 20) -> None:
    """Every order complete or cancelled, payments caught up, no refund still owed."""

    async def nothing_moving() -> None:
        assert await platform.still_settling() == []

    await eventually(nothing_moving, timeout=timeout, interval=0.2)


async def money_is_right(platform: Platform) -> None:
    violations = await platform.money_violations()
    assert violations == [], "\n".join(str(v) for v in violations)


@pytest.mark.platform(expiration_window_seconds=3, payment_grace_seconds=3, expiration_worker=True)
async def test_a_payment_after_the_deadline_is_refused_and_the_order_never_completes(
    platform: Platform,
) -> None:
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    ticket = await seller.sell()
    order = await platform.payable_order(buyer, ticket["id"])
    await until(expires_at(order) + timedelta(seconds=1))

    late = await buyer.pay(order["id"], "tok_visa")

    assert (late.status_code, late.json()) == (400, EXPIRED)
    # Payments' own clock refused it: the cancellation cannot have reached it yet (grace 3 s).
    assert await platform.payments_order_status(order["id"]) == "created"
    await eventually(lambda: buyer.order_status_is(order["id"], "cancelled"), timeout=15)
    await settled(platform)
    assert await platform.charges_for(order["id"]) == []
    assert (await platform.ticket(ticket["id"]))["orderId"] is None
    await money_is_right(platform)


# The outage of orders' database, around the deadline: 20 s in all.
DOWN_BEFORE_DEADLINE = timedelta(seconds=10)
DOWN_AFTER_DEADLINE = timedelta(seconds=10)


@pytest.mark.platform(
    expiration_window_seconds=13,
    payment_grace_seconds=30,
    expiration_worker=True,
    orders_database_apart=True,
)
async def test_a_payment_made_in_time_completes_the_order_although_orders_database_is_down_around_the_deadline(  # noqa: E501
    platform: Platform, bus: Bus
) -> None:
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    ticket = await seller.sell("Recital", "64.00")
    order = await platform.payable_order(buyer, ticket["id"])
    deadline = expires_at(order)
    await until(deadline - DOWN_BEFORE_DEADLINE)
    assert utcnow() < deadline - DOWN_BEFORE_DEADLINE + timedelta(seconds=2), "set-up too slow"

    await platform.stop_orders_database()
    try:
        await until(deadline - timedelta(seconds=2))
        paid = await buyer.pay(order["id"], "tok_visa")
        await until(deadline + DOWN_AFTER_DEADLINE)
    finally:
        await platform.start_orders_database()

    assert paid.status_code == 201, paid.text
    await eventually(lambda: buyer.order_status_is(order["id"], "complete"), timeout=20)
    assert (await platform.ticket(ticket["id"]))["orderId"] == order["id"]

    async def sold_in_the_read_model() -> None:
        listing = await buyer.http.get(f"/api/query/tickets/{ticket['id']}")
        assert listing.status_code == 200, listing.text
        assert listing.json()["status"] == "sold"

    await eventually(sold_in_the_read_model)

    # The expiry fires at expiresAt + grace and changes nothing: the order is paid.
    async def expiry_handled() -> None:
        assert await platform.handled_events("orders", "expiration.complete") == 1

    expiry_due = deadline + timedelta(seconds=30)
    await eventually(expiry_handled, timeout=(expiry_due - utcnow()).total_seconds() + 15)
    assert (await buyer.order(order["id"]))["status"] == "complete"
    await settled(platform)
    [charge] = await platform.charges_for(order["id"])
    assert (charge["amount"], charge["amount_refunded"]) == (6400, 0)
    await money_is_right(platform)
    assert await list_dead_letters(bus) == []


# Offsets from expiresAt at which each buyer presses Pay: in time, at the deadline and after
# it, including after the grace (the order may already be cancelled then).
RACE_WINDOW_SECONDS = 3
RACE_GRACE_SECONDS = 1
PAY_OFFSETS_SECONDS = (-1.5, -0.6, -0.25, -0.05, 0.0, 0.05, 0.3, 1.2)


@dataclass(frozen=True)
class Attempt:
    order_id: str
    expires_at: datetime
    sent_at: datetime
    response: httpx.Response


@pytest.mark.platform(
    expiration_window_seconds=RACE_WINDOW_SECONDS,
    payment_grace_seconds=RACE_GRACE_SECONDS,
    expiration_worker=True,
)
async def test_racing_payments_and_expiries_never_keep_a_charge_for_an_order_that_is_not_complete(
    platform: Platform,
) -> None:
    seller = await platform.sign_up()
    tickets = [await seller.sell(f"Seat {n}") for n in range(len(PAY_OFFSETS_SECONDS))]
    # One buyer per order: a buyer may hold only 5 unpaid orders.
    buyers = [await platform.sign_up() for _ in tickets]

    attempts = await asyncio.gather(
        *(
            pay_around_expiry(platform, buyer, ticket["id"], offset)
            for buyer, ticket, offset in zip(buyers, tickets, PAY_OFFSETS_SECONDS, strict=True)
        )
    )

    await settled(platform, timeout=30)
    await money_is_right(platform)
    problems = [
        await disagreement(platform, buyer, a) for buyer, a in zip(buyers, attempts, strict=True)
    ]
    assert [p for p in problems if p] == []
    answers = [a.response.status_code for a in attempts]
    assert 201 in answers and 400 in answers, answers  # both sides of the deadline were tried


async def pay_around_expiry(
    platform: Platform, buyer: Browser, ticket_id: str, offset: float
) -> Attempt:
    order = await platform.payable_order(buyer, ticket_id)
    deadline = expires_at(order)
    await until(deadline + timedelta(seconds=offset))
    sent_at = utcnow()
    return Attempt(order["id"], deadline, sent_at, await buyer.pay(order["id"], "tok_visa"))


async def disagreement(platform: Platform, buyer: Browser, attempt: Attempt) -> str | None:
    """What the buyer was told that the settled platform contradicts, if anything.

    Refused (always, when sent at or after expiresAt: payments' own clock): nothing was
    charged and the order ends cancelled. Told 201: sent before expiresAt, and the order is
    complete, unless the payment reached orders only after the grace; then the order is
    cancelled and its charge refunded (the invariant checks the refund)."""
    status = (await buyer.order(attempt.order_id))["status"]
    charges = await platform.charges_for(attempt.order_id)
    told = (attempt.response.status_code, attempt.response.json())
    late = attempt.sent_at >= attempt.expires_at
    state = f"order {attempt.order_id} {status}, late={late}, charges {charges}, told {told}"
    if told in ((400, EXPIRED), (400, CANCELLED)):
        return None if status == "cancelled" and not charges else f"{state}: refused, yet"
    if told[0] != 201:
        return f"{state}: an answer the contract does not give"
    if late:
        return f"{state}: a late payment was accepted"
    if status != "complete" and not charges:
        return f"{state}: told paid, yet nothing was charged"
    return None


async def test_a_3d_secure_purchase_completes_once_the_buyer_has_authenticated(
    platform: Platform,
) -> None:
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    ticket = await seller.sell("Ballet", "80.00")
    order = await platform.payable_order(buyer, ticket["id"])

    pending = await buyer.pay(order["id"], "tok_threeDSecure2Required")

    assert pending.status_code == 202, pending.text
    assert pending.json()["status"] == "requires_action"
    next_action_url = pending.json()["nextActionUrl"]
    assert next_action_url.startswith(platform.sandbox_url)
    assert (await buyer.order(order["id"]))["status"] == "created"
    assert await platform.charges_for(order["id"]) == []  # nothing charged before authenticating

    async with httpx.AsyncClient(follow_redirects=False) as card_issuer:
        back = await card_issuer.post(f"{next_action_url}/complete")
    assert back.status_code == 303, back.text
    location = back.headers["location"]
    assert f"/orders/{order['id']}/authenticated?" in location, location  # back to the shop
    assert "redirect_status=succeeded" in location

    settled_payment = await buyer.http.post(
        "/api/payments/authenticated", json={"orderId": order["id"]}
    )

    assert settled_payment.status_code == 201, settled_payment.text
    [payment] = await platform.payments_of(order["id"])
    assert str(payment.id) == settled_payment.json()["id"]
    await eventually(lambda: buyer.order_status_is(order["id"], "complete"))
    [charge] = await platform.charges_for(order["id"])
    assert (charge["amount"], charge["amount_refunded"]) == (8000, 0)
    assert charge["payment_intent"] == payment.stripe_id
    await settled(platform)
    await money_is_right(platform)
