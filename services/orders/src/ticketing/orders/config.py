"""Orders settings (env prefix ``ORDERS_``): the common ones plus the reservation timings."""

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
    sweep_grace_seconds: float = Field(
        default=60,
        ge=0,
        description="How long past expiresAt the sweep leaves an order to the expiration worker",
    )


Settings = Annotated[OrdersSettings, Depends(settings_of(OrdersSettings))]
