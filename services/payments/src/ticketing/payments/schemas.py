"""Payments request and response bodies."""

from uuid import UUID

from pydantic import Field

from ticketing.common.contracts import ApiModel


class PaymentIn(ApiModel):
    order_id: UUID
    token: str = Field(min_length=1, max_length=255)


class PaymentOut(ApiModel):
    id: UUID
