"""What the client reads from the services (DESIGN §3), parsed into typed page data."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from ticketing.common.contracts import ApiModel

OrderStatus = Literal["created", "cancelled", "awaiting:payment", "complete"]
ListingStatus = Literal["available", "reserved", "sold"]


class User(ApiModel):
    id: UUID
    email: str


class CurrentUserBody(ApiModel):
    current_user: User | None


class Ticket(ApiModel):
    """A ticket as the tickets service (authoritative) or the query read model shows it."""

    id: UUID
    title: str
    price: Decimal
    user_id: UUID
    version: int
    order_id: UUID | None = None
    status: ListingStatus | None = None  # only the read model knows reserved from sold


class TicketPage(ApiModel):
    items: list[Ticket]
    limit: int
    next: str | None  # the cursor of the next (older) page; None on the last


class OrderTicket(ApiModel):
    id: UUID
    title: str | None = None
    price: Decimal


class Order(ApiModel):
    id: UUID
    user_id: UUID
    status: OrderStatus
    expires_at: datetime
    version: int
    ticket: OrderTicket


class Payment(ApiModel):
    id: UUID


class AuthenticationRequired(ApiModel):
    """Payments' 202: the card needs 3-D Secure; the buyer goes to ``next_action_url``."""

    next_action_url: str
