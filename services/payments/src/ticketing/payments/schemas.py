"""Payments request and response bodies."""

from typing import Literal
from uuid import UUID

from pydantic import Field

from ticketing.common.contracts import ApiModel


class PaymentIn(ApiModel):
    order_id: UUID
    token: str = Field(min_length=1, max_length=255)


class PaymentOut(ApiModel):
    id: UUID


class AuthenticatedIn(ApiModel):
    """The buyer is back from authenticating the payment of this order."""

    order_id: UUID


class RequiresActionOut(ApiModel):
    """202: the card needs authentication (3-D Secure); send the buyer to ``next_action_url``."""

    status: Literal["requires_action"] = "requires_action"
    next_action_url: str
