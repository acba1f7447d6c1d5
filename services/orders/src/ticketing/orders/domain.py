"""The order rules, pure (no I/O): status transitions, expiry, ownership, replica ordering.

A transition returns True when it changed the order and False when the order is already in
the target state (asking twice is harmless); an illegal transition raises ``BadRequestError``.
Callers decide what an idempotent repeat means for them (the API answers 204, listeners
return).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from ticketing.common.errors import BadRequestError, NotAuthorizedError
from ticketing.orders.models import Order

CANNOT_CANCEL_COMPLETED = "Cannot cancel a completed order"
CANNOT_COMPLETE_CANCELLED = "Cannot complete a cancelled order"


def expiry_for(now: datetime, window: timedelta) -> datetime:
    """When an order placed at ``now`` stops reserving its ticket."""
    return now + window


def ensure_owner(order: Order, user_id: UUID) -> None:
    if order.user_id != user_id:
        raise NotAuthorizedError()


def cancel(order: Order) -> bool:
    """Cancel the order, freeing its ticket; a completed (paid) order stays complete."""
    if order.status == "cancelled":
        return False
    if order.status == "complete":
        raise BadRequestError(CANNOT_CANCEL_COMPLETED)
    order.status = "cancelled"
    return True


def complete(order: Order) -> bool:
    """Mark the order paid; a cancelled order cannot be (its payment must be refunded)."""
    if order.status == "complete":
        return False
    if order.status == "cancelled":
        raise BadRequestError(CANNOT_COMPLETE_CANCELLED)
    order.status = "complete"
    return True


def is_overdue(order: Order, now: datetime, grace: timedelta) -> bool:
    """Still waiting for payment although its window closed more than ``grace`` ago."""
    return order.status == "created" and order.expires_at + grace < now
