"""Response bodies of the query API (camelCase JSON, prices as JSON numbers)."""

from datetime import datetime
from uuid import UUID

from ticketing.common.contracts import ApiModel, OrderBody, Price, TicketBody
from ticketing.query.domain import ListingStatus


class ListingOut(TicketBody):
    status: ListingStatus
    updated_at: datetime


class ListingPage(ApiModel):
    """One page of listings; ``next`` is the cursor of the page after (null on the last)."""

    items: list[ListingOut]
    limit: int
    next: str | None


class OrderTicketOut(ApiModel):
    id: UUID
    title: str | None  # None until the ticket's own events have reached the read model
    price: Price


class PaymentOut(ApiModel):
    id: UUID
    stripe_id: str


class OrderOut(OrderBody):
    ticket: OrderTicketOut
    payment: PaymentOut | None
