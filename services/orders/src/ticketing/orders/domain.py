"""The order rules, pure (no I/O): who may order a ticket, status transitions, expiry,
ownership.

Placing an order is refused, in this order (the first rule that applies answers):
1. the ticket is unknown here: 404 (the caller checks it, there is nothing to decide on);
2. "Cannot buy your own ticket": the buyer is the ticket's seller;
3. "Ticket is not for sale": the seller is banned (their tickets stay visible, not buyable);
4. "Ticket is already reserved": a live order holds it;
5. "Too many unpaid orders": the buyer already holds the maximum of orders in ``created``.
Facts about the ticket itself come first (they answer whoever asks), then its availability,
then the buyer's own limit: a buyer at their limit asking for a sold-out ticket learns that it
is reserved, which waiting out their own orders would not change. Rule 4 is checked here for
the message only; the database's unique index still decides between racing buyers, and the
caller serialises one buyer's orders so that rule 5 counts what is committed.

Expiry: an order is ``expiresAt`` + the payment grace away from being cancelled for expiry,
by this service's clock, whoever asks (the expiration worker's event or the sweep): a payment
accepted before ``expiresAt`` may still be on its way during the grace.

A transition returns True when it changed the order and False when the order is already in
the target state (asking twice is harmless); an illegal transition raises ``BadRequestError``.
Callers decide what an idempotent repeat means for them (the API answers 204, listeners
return).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from ticketing.common.errors import BadRequestError, NotAuthorizedError

if TYPE_CHECKING:  # type hints only: the rules work on rows but must not load SQLAlchemy
    from ticketing.common.contracts import OrderStatus
    from ticketing.orders.models import Order, Ticket

CANNOT_CANCEL_COMPLETED = "Cannot cancel a completed order"
CANNOT_COMPLETE_CANCELLED = "Cannot complete a cancelled order"
OWN_TICKET = "Cannot buy your own ticket"
NOT_FOR_SALE = "Ticket is not for sale"
TICKET_RESERVED = "Ticket is already reserved"
TOO_MANY_UNPAID = "Too many unpaid orders"


@dataclass(frozen=True)
class OrderRequest:
    """What is known when a buyer asks for a ticket: everything the rules above look at."""

    ticket: Ticket
    buyer: UUID
    seller_banned: bool
    reserved: bool
    unpaid_orders: int  # the buyer's orders in ``created``


def ensure_orderable(request: OrderRequest, *, max_unpaid_orders: int) -> None:
    """Refuse the order with the first rule (module docstring) that applies."""
    seller = request.ticket.user_id  # None: replicated before sellers were kept, unknown
    if seller is not None and seller == request.buyer:
        raise BadRequestError(OWN_TICKET)
    if request.seller_banned:
        raise BadRequestError(NOT_FOR_SALE)
    if request.reserved:
        raise BadRequestError(TICKET_RESERVED)
    if request.unpaid_orders >= max_unpaid_orders:
        raise BadRequestError(TOO_MANY_UNPAID)


def expiry_for(now: datetime, window: timedelta) -> datetime:
    """When an order placed at ``now`` stops reserving its ticket."""
    return now + window


def cancellable_for_expiry_from(order: Order, grace: timedelta) -> datetime:
    """The moment after which an unpaid order may be cancelled for expiry."""
    return order.expires_at + grace


def expiry_is_due(order: Order, now: datetime, grace: timedelta) -> bool:
    """Past ``expiresAt`` + grace: a payment accepted in time has had the grace to reach
    orders. Whether one is still on its way (a replica killed holding it, an outage longer than
    the grace), only the bus can say: ``payments_in_flight``."""
    return cancellable_for_expiry_from(order, grace) < now


def ensure_owner(order: Order, user_id: UUID) -> None:
    if order.user_id != user_id:
        raise NotAuthorizedError()


def cancel(order: Order) -> bool:
    """Cancel the order, freeing its ticket; a completed (paid) order stays complete."""
    return _move(order, to="cancelled", never_from="complete", refusal=CANNOT_CANCEL_COMPLETED)


def complete(order: Order) -> bool:
    """Mark the order paid; a cancelled order cannot be (its payment must be refunded)."""
    return _move(order, to="complete", never_from="cancelled", refusal=CANNOT_COMPLETE_CANCELLED)


def _move(order: Order, *, to: OrderStatus, never_from: OrderStatus, refusal: str) -> bool:
    """The two final states exclude each other: the order reaches ``to`` unless it already
    reached ``never_from``; reaching ``to`` again changes nothing."""
    if order.status == to:
        return False
    if order.status == never_from:
        raise BadRequestError(refusal)
    order.status = to
    return True


def is_overdue(order: Order, now: datetime, grace: timedelta) -> bool:
    """Still waiting for payment although its window closed more than ``grace`` ago."""
    return order.status == "created" and expiry_is_due(order, now, grace)
