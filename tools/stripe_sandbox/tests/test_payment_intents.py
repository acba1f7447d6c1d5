"""PaymentIntents through the real SDK: charging test cards, declines, confirm, cancel, and
Stripe's authentication and validation errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from sandbox_client import card_payment, charges, token

VISA_BY_PAYMENT_METHOD: dict[str, Any] = {"payment_method": "pm_card_visa"}


@pytest.mark.parametrize(
    "card", [VISA_BY_PAYMENT_METHOD, token("tok_visa")], ids=["pm_card_visa", "tok_visa"]
)
def test_visa_payment_intent_succeeds(
    client: stripe.StripeClient, base_url: str, card: dict[str, Any]
) -> None:
    intent = client.v1.payment_intents.create(params=card_payment(**card))

    assert intent.object == "payment_intent"
    assert intent.id.startswith("pi_")
    assert intent.status == "succeeded"
    assert intent.amount == intent.amount_received == 2500
    assert intent.currency == "usd"
    assert intent.metadata["orderId"] == "order-1"
    assert intent.livemode is False
    assert intent.next_action is None
    assert intent.client_secret is not None
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert str(intent.latest_charge).startswith("ch_")
    assert [(c["id"], c["payment_intent"], c["amount"]) for c in charges(base_url)] == [
        (intent.latest_charge, intent.id, 2500)
    ]
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


@pytest.mark.parametrize(
    ("card", "decline_code", "message"),
    [
        ({"payment_method": "pm_card_chargeDeclined"}, "generic_decline", "declined"),
        (token("tok_chargeDeclined"), "generic_decline", "declined"),
        (
            {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"},
            "insufficient_funds",
            "insufficient funds",
        ),
    ],
)
def test_declined_card_raises_card_error(
    client: stripe.StripeClient,
    base_url: str,
    card: dict[str, Any],
    decline_code: str,
    message: str,
) -> None:
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(params=card_payment(**card))

    error = raised.value
    assert (error.http_status, error.code) == (402, "card_declined")
    assert message in str(error.user_message)
    assert error.error is not None
    assert error.error.decline_code == decline_code
    assert error.error.payment_intent is not None
    assert error.error.payment_intent.status == "requires_payment_method"
    assert charges(base_url) == []
    stored = client.v1.payment_intents.retrieve(error.error.payment_intent.id)
    assert stored.status == "requires_payment_method"
    assert stored.last_payment_error is not None
    assert stored.last_payment_error.code == "card_declined"


def test_an_unconfirmed_intent_can_be_confirmed_once(client: stripe.StripeClient) -> None:
    params = card_payment(payment_method="pm_card_mastercard")
    params["confirm"] = False
    intent = client.v1.payment_intents.create(params=params)
    assert (intent.status, intent.latest_charge) == ("requires_confirmation", None)

    confirmed = client.v1.payment_intents.confirm(intent.id)

    assert (confirmed.status, confirmed.amount_received) == ("succeeded", 2500)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.confirm(intent.id)
    assert raised.value.code == "payment_intent_unexpected_state"


def test_a_declined_intent_can_be_confirmed_again_with_another_card(
    client: stripe.StripeClient, base_url: str
) -> None:
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(
            params=card_payment(payment_method="pm_card_visa_chargeDeclined")
        )
    assert raised.value.error is not None and raised.value.error.payment_intent is not None
    intent_id = raised.value.error.payment_intent.id

    confirmed = client.v1.payment_intents.confirm(
        intent_id, params={"payment_method": "pm_card_visa"}
    )

    assert (confirmed.status, confirmed.last_payment_error) == ("succeeded", None)
    assert [c["payment_intent"] for c in charges(base_url)] == [intent_id]


def test_an_unpaid_intent_can_be_canceled(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(params={"amount": 2500, "currency": "usd"})

    canceled = client.v1.payment_intents.cancel(
        intent.id, params={"cancellation_reason": "abandoned"}
    )

    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    assert canceled.canceled_at is not None
    assert client.v1.payment_intents.retrieve(intent.id).status == "canceled"


def test_a_succeeded_intent_cannot_be_canceled(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(params=card_payment(payment_method="pm_card_visa"))

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.cancel(intent.id)

    assert (raised.value.http_status, raised.value.code) == (400, "payment_intent_unexpected_state")
    assert raised.value.error is not None and raised.value.error.type == "invalid_request_error"
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_automatic_payment_methods_need_a_return_url_unless_redirects_are_off(
    client: stripe.StripeClient,
) -> None:
    base: Any = {
        "amount": 2500,
        "currency": "usd",
        "confirm": True,
        "payment_method": "pm_card_visa",
    }
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(params=base)
    assert raised.value.param == "return_url"

    no_redirects: Any = {
        **base,
        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
    }
    assert client.v1.payment_intents.create(params=no_redirects).status == "succeeded"


def test_bad_api_key_is_an_authentication_error(base_url: str) -> None:
    for key in ("sk_live_0123456789abcdef", "not-a-key"):
        bad = stripe.StripeClient(key, base_addresses={"api": base_url}, max_network_retries=0)
        with pytest.raises(stripe.AuthenticationError) as raised:
            bad.v1.payment_intents.create(params=card_payment(payment_method="pm_card_visa"))
        assert str(raised.value.user_message).startswith("Invalid API Key provided")
    assert charges(base_url) == []


def test_a_request_without_a_key_is_refused(base_url: str) -> None:
    response = httpx.get(f"{base_url}/v1/payment_intents/pi_x")

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "did not provide an API key" in response.json()["error"]["message"]


def test_unknown_intent_is_an_invalid_request(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.retrieve("pi_missing")
    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")
    assert "pi_missing" in str(raised.value.user_message)


def test_an_unserved_url_answers_in_stripes_error_shape(base_url: str) -> None:
    response = httpx.get(
        f"{base_url}/v1/payment_intents", headers={"Authorization": "Bearer sk_test_x"}
    )

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "Unrecognized request URL" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"payment_method": "pm_card_nope"}, "payment_method"),
        (token("tok_nope"), "payment_method_data[card][token]"),
    ],
)
def test_unknown_card_is_resource_missing(
    client: stripe.StripeClient, extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(params=card_payment(**extra))
    assert (raised.value.code, raised.value.param) == ("resource_missing", param)


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"amount": 49, "currency": "usd"}, "amount", "amount_too_small"),
        ({"currency": "usd"}, "amount", "parameter_missing"),
        ({"amount": 2500}, "currency", "parameter_missing"),
        ({"amount": 2500, "currency": "usd", "amonut": 1}, "amonut", "parameter_unknown"),
    ],
)
def test_invalid_params_are_rejected(
    client: stripe.StripeClient, params: Any, param: str, code: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(params=params)
    assert (raised.value.param, raised.value.code) == (param, code)
