"""Payments refuses to run in production with the sandbox key or without a webhook secret."""

from typing import Any

import pytest
from pydantic import ValidationError

from ticketing.common.auth import KeyPair
from ticketing.payments.config import PaymentsSettings

REAL_WEBHOOK_SECRET = "whsec_" + "3f9a" * 8


def production(jwt_keys: KeyPair, **stripe: Any) -> PaymentsSettings:
    return PaymentsSettings(
        environment="production",
        cookie_secure=True,
        database_url="postgresql+asyncpg://payments@db/payments",
        jwt_public_key=jwt_keys.public_pem,
        **stripe,
    )


def test_production_refuses_the_sandbox_key(jwt_keys: KeyPair) -> None:
    with pytest.raises(ValidationError, match="real Stripe key"):
        production(jwt_keys, stripe_webhook_secret=REAL_WEBHOOK_SECRET)


def test_production_requires_a_webhook_secret(jwt_keys: KeyPair) -> None:
    with pytest.raises(ValidationError, match="stripe_webhook_secret"):
        production(jwt_keys, stripe_secret_key="sk_live_realkey")


@pytest.mark.parametrize(
    "secret", ["whsec_dev", "whsec_short", "not-a-whsec-but-long-enough-anyway"]
)
def test_production_refuses_a_webhook_secret_anyone_could_know_or_guess(
    jwt_keys: KeyPair, secret: str
) -> None:
    with pytest.raises(ValidationError, match="real whsec_"):
        production(jwt_keys, stripe_secret_key="sk_live_realkey", stripe_webhook_secret=secret)


def test_production_runs_with_a_real_key_and_a_webhook_secret(jwt_keys: KeyPair) -> None:
    settings = production(
        jwt_keys, stripe_secret_key="sk_live_realkey", stripe_webhook_secret=REAL_WEBHOOK_SECRET
    )

    assert (settings.stripe_api_base, settings.currency) == (None, "usd")


def test_outside_production_the_sandbox_key_is_the_default(jwt_keys: KeyPair) -> None:
    settings = PaymentsSettings(
        environment="development",
        database_url="postgresql+asyncpg://payments@db/payments",
        jwt_public_key=jwt_keys.public_pem,
    )

    assert settings.stripe_secret_key == "sk_test_sandbox"
