"""Payments settings (env prefix ``PAYMENTS_``): the common ones plus Stripe.

With no real key the SDK talks to the local Stripe sandbox at ``stripe_api_base`` using the
sandbox key; in production the sandbox key is refused unless an API base is set explicitly, and a
webhook secret is required.
"""

from typing import Annotated

from fastapi import Depends
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from ticketing.common.service import settings_of
from ticketing.common.settings import ServiceSettings

SANDBOX_SECRET_KEY = "sk_test_sandbox"


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

    @model_validator(mode="after")
    def _refuse_sandbox_in_production(self) -> "PaymentsSettings":
        if self.environment != "production":
            return self
        if self.stripe_secret_key == SANDBOX_SECRET_KEY and self.stripe_api_base is None:
            raise ValueError("stripe_secret_key must be a real Stripe key in production")
        if not self.stripe_webhook_secret:
            raise ValueError("stripe_webhook_secret is required in production")
        return self


Settings = Annotated[PaymentsSettings, Depends(settings_of(PaymentsSettings))]
