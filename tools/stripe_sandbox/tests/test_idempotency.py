"""Idempotency-Key as Stripe keeps it: a replay answers the first outcome without acting again,
other params under the same key are an idempotency_error, concurrent duplicates charge once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe
from sandbox_client import card_payment, charges


def test_same_idempotency_key_replays_without_charging_again(
    client: stripe.StripeClient, base_url: str
) -> None:
    params = card_payment(payment_method="pm_card_visa")

    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k-1"})
    second = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k-1"})

    assert (second.id, second.latest_charge) == (first.id, first.latest_charge)
    assert first.last_response is not None and second.last_response is not None
    assert "idempotent-replayed" not in first.last_response.headers
    assert second.last_response.headers["idempotent-replayed"] == "true"
    assert len(charges(base_url)) == 1


def test_declines_are_replayed_too(client: stripe.StripeClient) -> None:
    params = card_payment(payment_method="pm_card_chargeDeclined")
    errors = []
    for _ in range(2):
        with pytest.raises(stripe.CardError) as raised:
            client.v1.payment_intents.create(params=params, options={"idempotency_key": "k-2"})
        errors.append(raised.value)

    assert errors[0].http_body == errors[1].http_body
    assert errors[1].headers is not None
    assert errors[1].headers["idempotent-replayed"] == "true"


def test_a_requires_action_answer_is_replayed(client: stripe.StripeClient) -> None:
    params = card_payment(
        payment_method="pm_card_threeDSecure2Required", return_url="http://shop.test/back"
    )

    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k-3ds"})
    again = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k-3ds"})

    assert (again.id, again.status) == (first.id, "requires_action")
    assert again.last_response is not None
    assert again.last_response.headers["idempotent-replayed"] == "true"


def test_concurrent_duplicates_charge_once(base_url: str) -> None:
    def pay(_: int) -> str:
        own_client = stripe.StripeClient(
            "sk_test_sandbox", base_addresses={"api": base_url}, max_network_retries=0
        )
        intent = own_client.v1.payment_intents.create(
            params=card_payment(payment_method="pm_card_visa"),
            options={"idempotency_key": "k-concurrent"},
        )
        return intent.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(pay, range(16)))

    assert len(ids) == 1
    assert len(charges(base_url)) == 1


def test_same_key_with_different_params_is_an_idempotency_error(
    client: stripe.StripeClient, base_url: str
) -> None:
    client.v1.payment_intents.create(
        params=card_payment(payment_method="pm_card_visa"), options={"idempotency_key": "k-4"}
    )

    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.payment_intents.create(
            params=card_payment(amount=9999, payment_method="pm_card_visa"),
            options={"idempotency_key": "k-4"},
        )

    assert raised.value.http_status == 400
    assert "same parameters" in str(raised.value.user_message)
    assert [charge["amount"] for charge in charges(base_url)] == [2500]


def test_a_request_refused_by_validation_may_be_corrected_under_its_key(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.create(
            params=card_payment(amount=10), options={"idempotency_key": "k-5"}
        )

    intent = client.v1.payment_intents.create(
        params=card_payment(payment_method="pm_card_visa"), options={"idempotency_key": "k-5"}
    )
    assert intent.status == "succeeded"
