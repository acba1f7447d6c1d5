"""Refunds by PaymentIntent, and the control that makes an intent's refunds fail as for a
disputed charge (for tests of refunds that can never succeed)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from sandbox_client import card_payment, charges

DISPUTED = "The charge you're attempting to refund has been charged back."


def fail_refunds_of(base_url: str, intent_id: str) -> httpx.Response:
    return httpx.post(f"{base_url}/_sandbox/refund_failures", json={"payment_intent": intent_id})


def test_refunds_reduce_the_charge_and_cannot_exceed_it(
    client: stripe.StripeClient, base_url: str
) -> None:
    intent = client.v1.payment_intents.create(params=card_payment(payment_method="pm_card_visa"))

    partial = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1000})
    assert partial.id.startswith("re_")
    assert (partial.object, partial.status, partial.amount, partial.charge) == (
        "refund",
        "succeeded",
        1000,
        intent.latest_charge,
    )
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1501})
    assert raised.value.param == "amount"

    rest = client.v1.refunds.create(params={"payment_intent": intent.id})
    assert rest.amount == 1500
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"payment_intent": intent.id})
    assert raised.value.code == "charge_already_refunded"
    (charge,) = charges(base_url)
    assert (charge["amount_refunded"], charge["refunded"]) == (2500, True)


def test_refunding_an_intent_that_did_not_succeed_fails(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(params={"amount": 2500, "currency": "usd"})
    assert intent.status == "requires_payment_method"

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"payment_intent": intent.id})

    assert (raised.value.http_status, raised.value.code) == (400, "payment_intent_unexpected_state")


def test_refunds_of_a_marked_intent_always_fail_as_for_a_disputed_charge(
    client: stripe.StripeClient, base_url: str
) -> None:
    disputed = client.v1.payment_intents.create(params=card_payment(payment_method="pm_card_visa"))
    other = client.v1.payment_intents.create(params=card_payment(payment_method="pm_card_visa"))
    assert fail_refunds_of(base_url, disputed.id).status_code == 200

    for _attempt in range(2):
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.refunds.create(
                params={"payment_intent": disputed.id},
                options={"idempotency_key": f"refund-{disputed.id}"},
            )
        assert (raised.value.http_status, raised.value.code) == (400, "charge_disputed")
        assert raised.value.user_message == DISPUTED

    assert client.v1.refunds.create(params={"payment_intent": other.id}).status == "succeeded"
    refunded = {charge["payment_intent"]: charge["refunded"] for charge in charges(base_url)}
    assert refunded == {disputed.id: False, other.id: True}


def test_reset_clears_refund_failures(client: stripe.StripeClient, base_url: str) -> None:
    marked = client.v1.payment_intents.create(params=card_payment(payment_method="pm_card_visa"))
    fail_refunds_of(base_url, marked.id).raise_for_status()

    httpx.post(f"{base_url}/_sandbox/reset").raise_for_status()

    assert httpx.get(f"{base_url}/_sandbox/charges").json()["data"] == []
    fresh = client.v1.payment_intents.create(params=card_payment(payment_method="pm_card_visa"))
    assert fail_refunds_of(base_url, marked.id).status_code == 404
    assert client.v1.refunds.create(params={"payment_intent": fresh.id}).status == "succeeded"


def test_once_refund_failures_are_lifted_a_retry_under_the_same_key_refunds(
    client: stripe.StripeClient, base_url: str
) -> None:
    intent = client.v1.payment_intents.create(params=card_payment(payment_method="pm_card_visa"))
    fail_refunds_of(base_url, intent.id).raise_for_status()
    refund: dict[str, Any] = {"params": {"payment_intent": intent.id}}
    refund["options"] = {"idempotency_key": f"refund-{intent.id}"}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(**refund)

    httpx.delete(f"{base_url}/_sandbox/refund_failures/{intent.id}").raise_for_status()

    assert client.v1.refunds.create(**refund).status == "succeeded"
    assert charges(base_url)[0]["refunded"] is True


@pytest.mark.parametrize(
    ("body", "status"),
    [({"payment_intent": "pi_unknown"}, 404), ({}, 400), ([], 400)],
    ids=["unknown intent", "no intent", "not an object"],
)
def test_marking_refunds_needs_an_existing_intent(base_url: str, body: object, status: int) -> None:
    response = httpx.post(f"{base_url}/_sandbox/refund_failures", json=body)

    assert response.status_code == status
    assert response.json()["error"]["type"] == "invalid_request_error"
