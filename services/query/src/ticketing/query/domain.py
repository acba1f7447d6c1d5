"""The read model's rules, pure: what state a listing is in, given what is known of its orders.

A listing's status is derived from *state*, never from the last event seen: the ticket's own
``orderId`` plus every known order of the ticket (and whether it is paid). Recomputing it after
every change makes the result independent of the order in which events of different
aggregates arrive, so the live consumer and a rebuild converge on the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from ticketing.common.contracts import OrderStatus

ListingStatus = Literal["available", "reserved", "sold"]
LISTING_STATUSES: tuple[ListingStatus, ...] = ("available", "reserved", "sold")


@dataclass(frozen=True)
class KnownOrder:
    """What the read model knows of one order of a ticket."""

    id: UUID
    status: OrderStatus
    paid: bool = False


def listing_status(orders: Sequence[KnownOrder], reserved_by: UUID | None) -> ListingStatus:
    """``sold`` once an order completed (or was paid and not cancelled); ``reserved`` while a
    non-cancelled order holds it, either by our copy of the order or by the ticket's own
    ``orderId`` when that order is not known to be cancelled; ``available`` otherwise."""
    if any(_is_sale(order) for order in orders):
        return "sold"
    if any(order.status != "cancelled" for order in orders):
        return "reserved"
    cancelled = {order.id for order in orders}
    if reserved_by is not None and reserved_by not in cancelled:
        return "reserved"
    return "available"


def _is_sale(order: KnownOrder) -> bool:
    return order.status == "complete" or (order.paid and order.status != "cancelled")


def last_change(changes: Iterable[datetime | None]) -> datetime:
    """A row's ``updatedAt``: the newest event time that shaped it (event time, not wall
    clock, so a rebuild reproduces it exactly)."""
    return max(change for change in changes if change is not None)
