"""Orders settings (env prefix ``ORDERS_``): the common ones plus the reservation timings and
the limit on unpaid orders."""

from typing import Annotated

from fastapi import Depends
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ticketing.common.service import settings_of
from ticketing.common.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_", extra="ignore", frozen=True)

    expiration_window_seconds: float = Field(
        default=900, gt=0, description="How long an order reserves its ticket before expiring"
    )
    sweep_interval_seconds: float = Field(
        default=30, gt=0, description="How often the sweep looks for overdue orders"
    )
    payment_grace_seconds: float = Field(
        default=30,
        ge=0,
        description=(
            "How long after expiresAt an unpaid order is still not cancelled for expiry, so "
            "that a payment accepted before expiresAt completes it (same value as "
            "EXPIRATION_PAYMENT_GRACE_SECONDS)"
        ),
    )
    max_unpaid_orders: int = Field(
        default=5, ge=1, description="Orders in created one buyer may hold at once"
    )


Settings = Annotated[OrdersSettings, Depends(settings_of(OrdersSettings))]
