"""POST /api/payments/webhook: a signed event only names an intent; payments asks Stripe what
became of it, records a real charge once, and lets no forged or malformed body change a thing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import httpx
import pytest
import stripe

from ticketing.common.auth import KeyPair
from ticketing.common.events import PaymentCreated
from ticketing.testkit.events import events_of
from ticketing.testkit.http import eventually, sign_in_as

if TYPE_CHECKING:
    from conftest import World

WEBHOOK_SECRET = "whsec_test_secret"  # as in conftest


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


async def charged_behind_our_back(
    world: World, order_id: str, amount: int = 1999
) -> dict[str, Any]:
    """A charge Stripe made for the order that POST /api/payments never recorded (a crash)."""
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
    client: httpx.AsyncClient, world: World
) -> None:
    order = await world.an_order(uuid4())
    intent = await charged_behind_our_back(world, str(order.data.id))
    payload = stripe_event("payment_intent.succeeded", intent)

    first = await client.post("/api/payments/webhook", content=payload, headers=signed(payload))
    again = await client.post("/api/payments/webhook", content=payload, headers=signed(payload))

    assert first.status_code == again.status_code == 200
    (payment,) = await world.payments_for(order.data.id)
    assert payment.stripe_id == intent["id"]
    events = await eventually(lambda: published_payments(world))
    assert [e.data.stripe_id for e in events] == [intent["id"]]


async def published_payments(world: World) -> list[PaymentCreated]:
    events = await events_of(world.bus, PaymentCreated)
    assert events, "no payment.created yet"
    return events


async def test_a_webhook_for_a_payment_already_recorded_changes_nothing(
    client: httpx.AsyncClient, jwt_keys: KeyPair, world: World
) -> None:
    buyer = sign_in_as(client, jwt_keys)
    order = await world.an_order(buyer.id)
    paid = await client.post(
        "/api/payments", json={"orderId": str(order.data.id), "token": "tok_visa"}
    )
    (payment,) = await world.payments_for(order.data.id)
    intent = {"id": payment.stripe_id, "metadata": {"orderId": str(order.data.id)}}
    payload = stripe_event("payment_intent.succeeded", intent)

    response = await client.post("/api/payments/webhook", content=payload, headers=signed(payload))

    assert response.status_code == 200
    assert [p.id for p in await world.payments_for(order.data.id)] == [payment.id]
    assert paid.json() == {"id": str(payment.id)}


async def test_a_succeeded_payment_for_a_cancelled_order_is_refunded(
    client: httpx.AsyncClient, world: World
) -> None:
    order = await world.an_order(uuid4())
    intent = await charged_behind_our_back(world, str(order.data.id))
    await world.cancel(order)
    payload = stripe_event("payment_intent.succeeded", intent)

    response = await client.post("/api/payments/webhook", content=payload, headers=signed(payload))

    assert response.status_code == 200
    assert await world.payments_for(order.data.id) == []
    (charge,) = await world.charges_for(order.data.id)
    assert charge["amount_refunded"] == charge["amount"]


async def test_a_webhook_with_a_bad_or_missing_signature_is_a_400(
    client: httpx.AsyncClient, world: World
) -> None:
    order = await world.an_order(uuid4())
    intent = {"id": "pi_forged", "metadata": {"orderId": str(order.data.id)}}
    payload = stripe_event("payment_intent.succeeded", intent)

    forged = await client.post(
        "/api/payments/webhook", content=payload, headers=signed(payload, "whsec_other")
    )
    unsigned = await client.post("/api/payments/webhook", content=payload)

    for response in (forged, unsigned):
        assert response.status_code == 400
        assert set(response.json()) == {"errors"}
        assert response.json()["errors"][0]["message"]
    assert await world.payments_for(order.data.id) == []


async def test_other_stripe_events_are_acknowledged_and_ignored(
    client: httpx.AsyncClient, world: World
) -> None:
    order = await world.an_order(uuid4())
    intent = {"id": "pi_failed", "metadata": {"orderId": str(order.data.id)}}
    payload = stripe_event("payment_intent.payment_failed", intent)

    response = await client.post("/api/payments/webhook", content=payload, headers=signed(payload))

    assert response.status_code == 200
    assert await world.payments_for(order.data.id) == []


async def test_a_webhook_signed_with_the_public_dev_secret_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    order = await world.an_order(uuid4())
    intent = await charged_behind_our_back(world, str(order.data.id))
    payload = stripe_event("payment_intent.succeeded", intent)

    response = await client.post(
        "/api/payments/webhook", content=payload, headers=signed(payload, "whsec_dev")
    )

    assert response.status_code == 400
    assert await world.payments_for(order.data.id) == []


async def test_a_signed_claim_about_an_intent_stripe_does_not_know_changes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    order = await world.an_order(uuid4())
    forged = {
        "id": "pi_forged",
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 1999,
        "currency": "usd",
        "metadata": {"orderId": str(order.data.id)},
    }
    payload = stripe_event("payment_intent.succeeded", forged)

    response = await client.post("/api/payments/webhook", content=payload, headers=signed(payload))

    assert response.status_code == 200
    assert await world.payments_for(order.data.id) == []


async def test_a_real_charge_of_the_wrong_amount_does_not_pay_the_order(
    client: httpx.AsyncClient, world: World
) -> None:
    order = await world.an_order(uuid4(), price=Decimal("99.00"))
    too_little = await charged_behind_our_back(world, str(order.data.id), amount=50)
    payload = stripe_event("payment_intent.succeeded", {**too_little, "amount": 9900})

    response = await client.post("/api/payments/webhook", content=payload, headers=signed(payload))

    assert response.status_code == 200
    assert await world.payments_for(order.data.id) == []


async def test_another_orders_intent_does_not_pay_the_order_the_body_names(
    client: httpx.AsyncClient, jwt_keys: KeyPair, world: World
) -> None:
    buyer = sign_in_as(client, jwt_keys)
    paid, target = await world.an_order(buyer.id), await world.an_order(buyer.id)
    await client.post("/api/payments", json={"orderId": str(paid.data.id), "token": "tok_visa"})
    (payment,) = await world.payments_for(paid.data.id)
    claim = {"id": payment.stripe_id, "metadata": {"orderId": str(target.data.id)}}
    payload = stripe_event("payment_intent.succeeded", claim)

    response = await client.post("/api/payments/webhook", content=payload, headers=signed(payload))

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
async def test_a_malformed_but_signed_body_is_a_400(
    client: httpx.AsyncClient, world: World, body: bytes
) -> None:
    response = await client.post("/api/payments/webhook", content=body, headers=signed(body))

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Malformed Stripe event"}]}
