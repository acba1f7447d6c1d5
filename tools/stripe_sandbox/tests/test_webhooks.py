"""Webhooks as Stripe sends them: one signed event per change, delivered after the API call
answered, retried while the endpoint fails or is down, every delivery on record."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
import stripe
from sandbox_client import (
    RETURN_URL,
    WEBHOOK_SECRET,
    WebhookEndpoint,
    card_payment,
    configure_webhooks,
    deliveries,
    settled_deliveries,
    start_endpoint,
    within,
)

from ticketing.stripe_sandbox.webhooks import WebhookDispatcher
from ticketing.stripe_sandbox.webhooks import WebhookEndpoint as Endpoint
from ticketing.testkit.embedded import free_port

VISA: dict[str, Any] = {"payment_method": "pm_card_visa"}


def types_for(endpoint: WebhookEndpoint, intent_id: str) -> list[str]:
    return [
        event["type"]
        for event in endpoint.events()
        if intent_id
        in (event["data"]["object"]["id"], event["data"]["object"].get("payment_intent"))
    ]


def test_events_are_signed_for_stripe_webhook_construct_event(
    client: stripe.StripeClient, endpoint: WebhookEndpoint
) -> None:
    intent = client.v1.payment_intents.create(
        params=card_payment(**VISA), options={"idempotency_key": "order-1"}
    )

    (received,) = within(10, lambda: _exactly_one(endpoint))
    event = stripe.Webhook.construct_event(
        received.body, received.headers["Stripe-Signature"], WEBHOOK_SECRET
    )
    assert (event.type, event.object, event.livemode) == (
        "payment_intent.succeeded",
        "event",
        False,
    )
    assert event.id.startswith("evt_")
    assert event.api_version
    assert event.request is not None and event.request.idempotency_key == "order-1"
    assert (event.data.object["id"], event.data.object["status"]) == (intent.id, "succeeded")
    assert event.data.object["metadata"]["orderId"] == "order-1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            received.body, received.headers["Stripe-Signature"], "whsec_someone_else"
        )


def _exactly_one_delivery(base_url: str) -> list[dict[str, Any]]:
    found = deliveries(base_url)
    assert len(found) == 1, found
    return found


def _exactly_one(endpoint: WebhookEndpoint) -> list[Any]:
    assert len(endpoint.received) == 1
    return list(endpoint.received)


def test_each_change_is_announced(
    client: stripe.StripeClient, base_url: str, endpoint: WebhookEndpoint
) -> None:
    paid = client.v1.payment_intents.create(params=card_payment(**VISA))
    client.v1.refunds.create(params={"payment_intent": paid.id})
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.create(
            params=card_payment(payment_method="pm_card_chargeDeclined")
        )
    authenticated = client.v1.payment_intents.create(
        params=card_payment(payment_method="pm_card_threeDSecure2Required", return_url=RETURN_URL)
    )
    completed = httpx.post(f"{base_url}/_sandbox/3ds/{authenticated.id}/complete")
    assert completed.status_code == 303

    found = within(10, lambda: settled_deliveries(base_url, 5))

    assert types_for(endpoint, paid.id) == ["payment_intent.succeeded", "charge.refunded"]
    assert types_for(endpoint, authenticated.id) == [
        "payment_intent.requires_action",
        "payment_intent.succeeded",
    ]
    assert sorted(delivery["type"] for delivery in found) == [
        "charge.refunded",
        "payment_intent.payment_failed",
        "payment_intent.requires_action",
        "payment_intent.succeeded",
        "payment_intent.succeeded",
    ]
    (refunded,) = [e for e in endpoint.events() if e["type"] == "charge.refunded"]
    assert refunded["data"]["object"]["object"] == "charge"
    assert (
        refunded["data"]["object"]["refunded"],
        refunded["data"]["object"]["amount_refunded"],
    ) == (
        True,
        2500,
    )


def test_an_idempotent_replay_announces_nothing_new(
    client: stripe.StripeClient, base_url: str, endpoint: WebhookEndpoint
) -> None:
    for _ in range(2):
        client.v1.payment_intents.create(
            params=card_payment(**VISA), options={"idempotency_key": "once"}
        )
    client.v1.payment_intents.create(params=card_payment(**VISA))

    within(10, lambda: settled_deliveries(base_url, 2))
    assert len(deliveries(base_url)) == 2


def test_delivery_happens_after_the_api_call_answered(
    client: stripe.StripeClient, base_url: str, endpoint: WebhookEndpoint
) -> None:
    endpoint.gate = threading.Event()

    intent = client.v1.payment_intents.create(params=card_payment(**VISA))

    assert intent.status == "succeeded"
    (delivery,) = within(10, lambda: _exactly_one_delivery(base_url))
    assert delivery["state"] == "pending"
    endpoint.gate.set()
    (delivery,) = within(10, lambda: settled_deliveries(base_url, 1))
    assert (delivery["state"], delivery["status_code"], delivery["attempts"]) == (
        "delivered",
        200,
        1,
    )


def test_a_failing_endpoint_is_retried_until_it_answers(
    client: stripe.StripeClient, base_url: str, endpoint: WebhookEndpoint
) -> None:
    endpoint.failures = 2

    intent = client.v1.payment_intents.create(params=card_payment(**VISA))

    (delivery,) = within(30, lambda: settled_deliveries(base_url, 1))
    assert delivery == {
        "event": endpoint.events()[0]["id"],
        "type": "payment_intent.succeeded",
        "payment_intent": intent.id,
        "url": endpoint.url,
        "attempts": 3,
        "status_code": 200,
        "error": None,
        "state": "delivered",
    }
    assert endpoint.answered == [500, 500, 200]


def test_an_unreachable_endpoint_is_retried_until_it_comes_up(
    client: stripe.StripeClient, base_url: str
) -> None:
    port = free_port()
    receiver = WebhookEndpoint()
    configure_webhooks(base_url, f"http://127.0.0.1:{port}/webhook")
    client.v1.payment_intents.create(params=card_payment(**VISA))

    def refused() -> dict[str, Any]:
        (delivery,) = deliveries(base_url)
        assert delivery["error"] is not None and "Connect" in delivery["error"], delivery
        return delivery

    within(10, refused)
    server = start_endpoint(receiver, port)
    try:
        (delivery,) = within(30, lambda: settled_deliveries(base_url, 1))
        assert (delivery["state"], delivery["error"]) == ("delivered", None)
        assert delivery["attempts"] >= 2
        assert [event["type"] for event in receiver.events()] == ["payment_intent.succeeded"]
    finally:
        server.shutdown()
        server.server_close()


async def test_delivery_gives_up_after_five_attempts() -> None:
    endpoint = Endpoint(f"http://127.0.0.1:{free_port()}/webhook", WEBHOOK_SECRET)
    dispatcher = WebhookDispatcher(endpoint, retry_delays=(0.01, 0.01, 0.01, 0.01))
    intent = {"id": "pi_1", "object": "payment_intent"}
    event = {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": intent}}

    await dispatcher.dispatch([event])

    for _ in range(200):
        (delivery,) = dispatcher.deliveries()
        if delivery["state"] != "pending":
            break
        await asyncio.sleep(0.05)
    assert (delivery["state"], delivery["attempts"]) == ("failed", 5)
    assert delivery["status_code"] is None and "Connect" in delivery["error"]


def test_webhooks_can_be_turned_off(
    client: stripe.StripeClient, base_url: str, endpoint: WebhookEndpoint
) -> None:
    assert httpx.get(f"{base_url}/_sandbox/webhooks").json() == {
        "url": endpoint.url,
        "enabled": True,
    }

    stopped = httpx.delete(f"{base_url}/_sandbox/webhooks")
    client.v1.payment_intents.create(params=card_payment(**VISA))

    assert stopped.json() == {"url": None, "enabled": False}
    assert deliveries(base_url) == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"url": "ftp://example.test/hook", "secret": WEBHOOK_SECRET}, "url"),
        ({"secret": WEBHOOK_SECRET}, "url"),
        ({"url": "http://127.0.0.1:9/hook", "secret": "s3cret"}, "secret"),
        ({"url": "http://127.0.0.1:9/hook"}, "secret"),
    ],
)
def test_a_webhook_endpoint_needs_a_url_and_a_signing_secret(
    base_url: str, body: dict[str, str], param: str
) -> None:
    response = httpx.post(f"{base_url}/_sandbox/webhooks", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert httpx.get(f"{base_url}/_sandbox/webhooks").json()["enabled"] is False
