"""POST /api/payments/webhook: a signed event only names an intent; payments asks Stripe what
became of it, records a real charge once, and lets no forged or malformed body change a thing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import httpx
import pytest
import stripe

from ticketing.common.auth import CurrentUser
from ticketing.common.events import OrderCreated, PaymentCreated
from ticketing.testkit.events import events_of
from ticketing.testkit.http import assert_refused, eventually

if TYPE_CHECKING:
    from conftest import Pay, World

WEBHOOK_SECRET = "whsec_test_secret"  # as in conftest

Deliver = Callable[..., Awaitable[httpx.Response]]


def stripe_event(event_type: str, intent: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "id": f"evt_{uuid4().hex[:24]}",
            "object": "event",
            "type": event_type,
            "data": {"object": intent},
        }
    ).encode()


def signed(payload: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), secret)
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


@pytest.fixture
def deliver(client: httpx.AsyncClient) -> Deliver:
    """Stripe posting ``payload`` to the webhook, signed with ``secret`` (None: unsigned)."""

    async def post(payload: bytes, secret: str | None = WEBHOOK_SECRET) -> httpx.Response:
        headers = None if secret is None else signed(payload, secret)
        return await client.post("/api/payments/webhook", content=payload, headers=headers)

    return post


async def charged_behind_our_back(
    world: World, order: OrderCreated, amount: int = 1999
) -> dict[str, Any]:
    """A charge Stripe made for the order that POST /api/payments never recorded (a crash)."""
    order_id = str(order.data.id)
    http = stripe.HTTPXClient()
    stripe_client = stripe.StripeClient(
        "sk_test_sandbox",
        base_addresses={"api": world.sandbox.url},
        max_network_retries=0,
        http_client=http,
    )
    intent = await stripe_client.v1.payment_intents.create_async(
        params={
            "amount": amount,
            "currency": "usd",
            "confirm": True,
            "payment_method": "pm_card_visa",
            "payment_method_types": ["card"],
            "metadata": {"orderId": order_id},
        }
    )
    await http.close_async()
    return {"id": intent.id, "object": "payment_intent", "metadata": {"orderId": order_id}}


async def test_a_succeeded_payment_intent_is_recorded_once_however_often_it_is_delivered(
    deliver: Deliver, world: World, order: OrderCreated
) -> None:
    intent = await charged_behind_our_back(world, order)
    payload = stripe_event("payment_intent.succeeded", intent)

    first = await deliver(payload)
    again = await deliver(payload)

    assert first.status_code == again.status_code == 200
    (payment,) = await world.payments_for(order.data.id)
    assert payment.stripe_id == intent["id"]
    events = await eventually(lambda: published_payments(world))
    assert [e.data.stripe_id for e in events] == [intent["id"]]


async def published_payments(world: World) -> list[PaymentCreated]:
    events = await events_of(world.bus, PaymentCreated)
    assert events, "no payment.created yet"
    return events


def claim(intent_id: str, order: OrderCreated) -> dict[str, Any]:
    """The part of a payment intent that names the order it pays (Stripe's ``metadata``)."""
    return {"id": intent_id, "metadata": {"orderId": str(order.data.id)}}


async def test_a_webhook_for_a_payment_already_recorded_changes_nothing(
    deliver: Deliver, pay: Pay, world: World, order: OrderCreated
) -> None:
    paid = await pay(order.data.id)
    (payment,) = await world.payments_for(order.data.id)

    response = await deliver(
        stripe_event("payment_intent.succeeded", claim(payment.stripe_id, order))
    )

    assert response.status_code == 200
    assert [p.id for p in await world.payments_for(order.data.id)] == [payment.id]
    assert paid.json() == {"id": str(payment.id)}


async def test_a_succeeded_payment_for_a_cancelled_order_is_refunded(
    deliver: Deliver, world: World, order: OrderCreated
) -> None:
    intent = await charged_behind_our_back(world, order)
    await world.cancel(order)

    response = await deliver(stripe_event("payment_intent.succeeded", intent))

    assert response.status_code == 200
    assert await world.payments_for(order.data.id) == []
    (charge,) = await world.charges_for(order.data.id)
    assert charge["amount_refunded"] == charge["amount"]


async def test_a_webhook_with_a_bad_or_missing_signature_is_a_400(
    deliver: Deliver, world: World, order: OrderCreated
) -> None:
    payload = stripe_event("payment_intent.succeeded", claim("pi_forged", order))

    forged = await deliver(payload, "whsec_other")
    unsigned = await deliver(payload, None)

    for response in (forged, unsigned):
        assert response.status_code == 400
        assert set(response.json()) == {"errors"}
        assert response.json()["errors"][0]["message"]
    assert await world.payments_for(order.data.id) == []


async def test_other_stripe_events_are_acknowledged_and_ignored(
    deliver: Deliver, world: World, order: OrderCreated
) -> None:
    response = await deliver(
        stripe_event("payment_intent.payment_failed", claim("pi_failed", order))
    )

    assert response.status_code == 200
    assert await world.payments_for(order.data.id) == []


async def test_a_webhook_signed_with_the_public_dev_secret_is_refused(
    deliver: Deliver, world: World, order: OrderCreated
) -> None:
    intent = await charged_behind_our_back(world, order)

    response = await deliver(stripe_event("payment_intent.succeeded", intent), "whsec_dev")

    assert response.status_code == 400
    assert await world.payments_for(order.data.id) == []


async def test_a_signed_claim_about_an_intent_stripe_does_not_know_changes_nothing(
    deliver: Deliver, world: World, order: OrderCreated
) -> None:
    forged = {
        **claim("pi_forged", order),
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 1999,
        "currency": "usd",
    }

    response = await deliver(stripe_event("payment_intent.succeeded", forged))

    assert response.status_code == 200
    assert await world.payments_for(order.data.id) == []


async def test_a_real_charge_of_the_wrong_amount_does_not_pay_the_order(
    deliver: Deliver, world: World, buyer: CurrentUser
) -> None:
    order = await world.an_order(buyer.id, price=Decimal("99.00"))
    too_little = await charged_behind_our_back(world, order, amount=50)

    response = await deliver(
        stripe_event("payment_intent.succeeded", {**too_little, "amount": 9900})
    )

    assert response.status_code == 200
    assert await world.payments_for(order.data.id) == []


async def test_another_orders_intent_does_not_pay_the_order_the_body_names(
    deliver: Deliver, pay: Pay, world: World, buyer: CurrentUser
) -> None:
    paid, target = await world.an_order(buyer.id), await world.an_order(buyer.id)
    await pay(paid.data.id)
    (payment,) = await world.payments_for(paid.data.id)

    response = await deliver(
        stripe_event("payment_intent.succeeded", claim(payment.stripe_id, target))
    )

    assert response.status_code == 200
    assert await world.payments_for(target.data.id) == []
    assert [p.id for p in await world.payments_for(paid.data.id)] == [payment.id]


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"not json",
        b'{"id": "evt_1", "data": {"object": {"id": "pi_1"}}}',
        b'{"id": "evt_1", "type": "payment_intent.succeeded"}',
        b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": []}}',
        b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"id": 7}}}',
    ],
)
async def test_a_malformed_but_signed_body_is_a_400(deliver: Deliver, body: bytes) -> None:
    response = await deliver(body)

    assert_refused(response, 400, "Malformed Stripe event")
