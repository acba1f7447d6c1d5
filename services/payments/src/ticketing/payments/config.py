"""Payments settings (env prefix ``PAYMENTS_``): the common ones plus Stripe.

With no real key the SDK talks to the local Stripe sandbox at ``stripe_api_base`` using the
sandbox key. In production the sandbox key is refused unless an API base is set explicitly, and
the webhook secret must be a real one: missing, the public dev default or anything that is not a
``whsec_…`` secret would let anyone sign a webhook.
"""

from typing import Annotated

from fastapi import Depends
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from ticketing.common.service import settings_of
from ticketing.common.settings import ServiceSettings

SANDBOX_SECRET_KEY = "sk_test_sandbox"
DEV_WEBHOOK_SECRET = "whsec_dev"
WEBHOOK_SECRET_PREFIX = "whsec_"
MIN_WEBHOOK_SECRET_LENGTH = 24  # Stripe's are whsec_ + 32 characters or more


class PaymentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore", frozen=True)

    stripe_secret_key: str = Field(
        default=SANDBOX_SECRET_KEY, description="Stripe secret key (sk_test_… / sk_live_…)"
    )
    stripe_api_base: str | None = Field(
        default=None, description="Base URL of a Stripe-compatible API (the local sandbox)"
    )
    stripe_webhook_secret: str | None = Field(
        default=None, description="whsec_… that signs Stripe's webhook deliveries"
    )
    stripe_timeout_seconds: float = Field(default=30, gt=0)
    currency: str = Field(default="usd", pattern=r"^[a-z]{3}$")
    refund_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often payments of cancelled orders are refunded"
    )
    refund_max_attempts: int = Field(
        default=5, ge=1, description="Failed refund attempts after which a refund is parked"
    )
    client_url: str = Field(
        default="http://localhost:8080",
        description="Public URL of the site: 3-D Secure returns the buyer to its order page",
    )
    attempt_lease_seconds: float = Field(
        default=120,
        gt=0,
        description="How long a charge in flight blocks another attempt for the same order",
    )

    @model_validator(mode="after")
    def _refuse_sandbox_in_production(self) -> "PaymentsSettings":
        if self.environment != "production":
            return self
        if self.stripe_secret_key == SANDBOX_SECRET_KEY and self.stripe_api_base is None:
            raise ValueError("stripe_secret_key must be a real Stripe key in production")
        secret = self.stripe_webhook_secret or ""
        if (
            secret == DEV_WEBHOOK_SECRET
            or not secret.startswith(WEBHOOK_SECRET_PREFIX)
            or len(secret) < MIN_WEBHOOK_SECRET_LENGTH
        ):
            raise ValueError("stripe_webhook_secret must be a real whsec_… secret in production")
        return self


Settings = Annotated[PaymentsSettings, Depends(settings_of(PaymentsSettings))]
