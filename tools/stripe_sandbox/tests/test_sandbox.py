"""The sandbox driven by the real ``stripe`` SDK (v16), as the payments service will drive it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import stripe

from ticketing.stripe_sandbox.server import serve

stripe.enable_telemetry = False

VISA_BY_PAYMENT_METHOD: dict[str, Any] = {"payment_method": "pm_card_visa"}
VISA_BY_TOKEN: dict[str, Any] = {
    "payment_method_data": {"type": "card", "card": {"token": "tok_visa"}}
}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve() as url:
        yield url


@pytest.fixture(autouse=True)
def _reset(base_url: str) -> None:
    httpx.post(f"{base_url}/_sandbox/reset").raise_for_status()


@pytest.fixture
def client(base_url: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_sandbox", base_addresses={"api": base_url}, max_network_retries=0
    )


def card_payment(amount: int = 2500, **extra: Any) -> Any:
    """PaymentIntent params for a confirmed card payment (``Any``: the SDK's TypedDicts omit
    ``payment_method_data[card]``, which Stripe accepts for test tokens)."""
    return {
        "amount": amount,
        "currency": "usd",
        "payment_method_types": ["card"],
        "confirm": True,
        "metadata": {"orderId": "order-1"},
        **extra,
    }


def charges(base_url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base_url}/_sandbox/charges")
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()["data"]
    return data


@pytest.mark.parametrize(
    "card", [VISA_BY_PAYMENT_METHOD, VISA_BY_TOKEN], ids=["pm_card_visa", "tok_visa"]
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
    assert intent.client_secret is not None
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.latest_charge is not None
    assert str(intent.latest_charge).startswith("ch_")
    assert [(c["id"], c["payment_intent"], c["amount"]) for c in charges(base_url)] == [
        (intent.latest_charge, intent.id, 2500)
    ]
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


@pytest.mark.parametrize(
    ("card", "decline_code", "message"),
    [
        ({"payment_method": "pm_card_chargeDeclined"}, "generic_decline", "declined"),
        (
            {"payment_method_data": {"type": "card", "card": {"token": "tok_chargeDeclined"}}},
            "generic_decline",
            "declined",
        ),
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
    assert error.http_status == 402
    assert error.code == "card_declined"
    assert error.user_message is not None
    assert message in error.user_message
    assert error.error is not None
    assert error.error.decline_code == decline_code
    assert error.error.payment_intent is not None
    assert error.error.payment_intent.status == "requires_payment_method"
    assert charges(base_url) == []
    stored = client.v1.payment_intents.retrieve(error.error.payment_intent.id)
    assert stored.status == "requires_payment_method"
    assert stored.last_payment_error is not None
    assert stored.last_payment_error.code == "card_declined"


def test_same_idempotency_key_replays_without_charging_again(
    client: stripe.StripeClient, base_url: str
) -> None:
    params = card_payment(payment_method="pm_card_visa")

    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k-1"})
    second = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k-1"})

    assert second.id == first.id
    assert second.latest_charge == first.latest_charge
    assert first.last_response is not None and second.last_response is not None
    assert "idempotent-replayed" not in first.last_response.headers
    assert second.last_response.headers["idempotent-replayed"] == "true"
    assert len(charges(base_url)) == 1
    assert len(client.v1.payment_intents.list().data) == 1


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
    assert len(client.v1.payment_intents.list().data) == 1


def test_concurrent_duplicates_charge_once(base_url: str) -> None:
    def pay(_: int) -> str:
        own_client = stripe.StripeClient(
            "sk_test_sandbox", base_addresses={"api": base_url}, max_network_retries=0
        )
        params = card_payment(payment_method="pm_card_visa")
        intent = own_client.v1.payment_intents.create(
            params=params,
            options={"idempotency_key": "k-concurrent"},
        )
        return intent.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(pay, range(16)))

    assert len(ids) == 1
    assert len(charges(base_url)) == 1


def test_same_key_with_different_params_is_an_idempotency_error(
    client: stripe.StripeClient,
) -> None:
    client.v1.payment_intents.create(
        params=card_payment(payment_method="pm_card_visa"),
        options={"idempotency_key": "k-3"},
    )

    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.payment_intents.create(
            params=card_payment(amount=9999, payment_method="pm_card_visa"),
            options={"idempotency_key": "k-3"},
        )
    assert "same parameters" in str(raised.value.user_message)


def test_refunds_reduce_the_charge_and_cannot_exceed_it(
    client: stripe.StripeClient, base_url: str
) -> None:
    intent = client.v1.payment_intents.create(params=card_payment(payment_method="pm_card_visa"))

    partial = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1000})
    assert partial.id.startswith("re_")
    assert partial.object == "refund"
    assert (partial.status, partial.amount, partial.charge) == (
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

    assert charges(base_url)[0]["amount_refunded"] == 2500
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    assert (charge.amount_refunded, charge.refunded) == (2500, True)
    listed = client.v1.refunds.list(params={"payment_intent": intent.id})
    assert {refund.id for refund in listed.data} == {partial.id, rest.id}
    assert client.v1.refunds.list(params={"payment_intent": "pi_other"}).data == []


def test_refunding_an_intent_that_did_not_succeed_fails(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(params={"amount": 2500, "currency": "usd"})
    assert intent.status == "requires_payment_method"

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"payment_intent": intent.id})
    assert raised.value.http_status == 400


def test_an_unconfirmed_intent_can_be_confirmed_later(client: stripe.StripeClient) -> None:
    params = card_payment(payment_method="pm_card_mastercard")
    params["confirm"] = False
    intent = client.v1.payment_intents.create(params=params)
    assert (intent.status, intent.latest_charge) == ("requires_confirmation", None)

    confirmed = client.v1.payment_intents.confirm(intent.id)
    assert confirmed.status == "succeeded"
    assert confirmed.amount_received == 2500

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.confirm(intent.id)
    assert raised.value.code == "payment_intent_unexpected_state"


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
    intent = client.v1.payment_intents.create(params=no_redirects)
    assert intent.status == "succeeded"


def test_bad_api_key_is_an_authentication_error(base_url: str) -> None:
    for key in ("sk_live_0123456789abcdef", "not-a-key"):
        bad = stripe.StripeClient(key, base_addresses={"api": base_url}, max_network_retries=0)
        with pytest.raises(stripe.AuthenticationError) as raised:
            bad.v1.payment_intents.create(params=card_payment(payment_method="pm_card_visa"))
        assert str(raised.value.user_message).startswith("Invalid API Key provided")
    assert charges(base_url) == []


def test_unknown_intent_is_an_invalid_request(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.retrieve("pi_missing")
    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")
    assert "pi_missing" in str(raised.value.user_message)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"payment_method": "pm_card_nope"}, "payment_method"),
        (
            {"payment_method_data": {"type": "card", "card": {"token": "tok_nope"}}},
            "payment_method_data[card][token]",
        ),
    ],
)
def test_unknown_card_is_resource_missing(
    client: stripe.StripeClient, extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(params=card_payment(**extra))
    assert (raised.value.code, raised.value.param) == ("resource_missing", param)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"amount": 49, "currency": "usd"}, "amount"),
        ({"currency": "usd"}, "amount"),
        ({"amount": 2500}, "currency"),
        ({"amount": 2500, "currency": "usd", "amonut": 1}, "amonut"),
    ],
)
def test_invalid_params_are_rejected(client: stripe.StripeClient, params: Any, param: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(params=params)
    assert raised.value.param == param


def test_serve_frees_its_port() -> None:
    with serve() as url:
        port = int(url.rsplit(":", 1)[1])
        assert httpx.get(f"{url}/_sandbox/health").json() == {"ok": True}
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_module_entry_point_reports_ready() -> None:
    command = [sys.executable, "-m", "ticketing.stripe_sandbox", "--port", "0"]
    with subprocess.Popen(
        [*command, "--log-level", "warning"], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert "ready" in line
            url = line.strip().rsplit(" ", 1)[1]
            assert httpx.get(f"{url}/_sandbox/health").json() == {"ok": True}
        finally:
            process.terminate()
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it captured.
    assert process.returncode in (0, -signal.SIGTERM)
