"""Payment rules, pure: who may pay which order and until when, when an attempt may call
Stripe, what a PaymentIntent must say before it counts as paid, and what to do with a charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING
from uuid import UUID

from ticketing.common.contracts import to_cents
from ticketing.common.errors import BadRequestError, NotAuthorizedError, NotFoundError

if TYPE_CHECKING:  # type hints only: the rules read rows but must not load SQLAlchemy
    from ticketing.payments.models import Order, PaymentAttempt

CANCELLED = "cancelled"
COMPLETE = "complete"
CANNOT_PAY_CANCELLED = "Cannot pay for a cancelled order"
ALREADY_PAID = "Order is already paid"
EXPIRED = "Order has expired"
IN_PROGRESS = "A payment for this order is already in progress"
NOT_COMPLETED = "Your payment could not be completed. Try again or use another card."


class CardDeclinedError(BadRequestError):
    """Stripe refused the card (or its authentication): the order stays payable."""


SUCCEEDED = "succeeded"
REQUIRES_ACTION = "requires_action"


def ensure_payable(order: Order | None, *, by: UUID, paid: bool, now: datetime) -> Order:
    """The order ``by`` may pay now; ``paid`` says whether a payment is already stored.

    The deadline is payments' own clock against ``expiresAt``: a late payment is refused even
    before the cancellation arrives (orders only cancels a grace period later)."""
    if order is None:
        raise NotFoundError()
    if order.user_id != by:
        raise NotAuthorizedError()
    if order.status == CANCELLED:
        raise BadRequestError(CANNOT_PAY_CANCELLED)
    if paid or order.status == COMPLETE:
        raise BadRequestError(ALREADY_PAID)
    if now >= order.expires_at:
        raise BadRequestError(EXPIRED)
    return order


@dataclass(frozen=True)
class Intent:
    """What Stripe says about a PaymentIntent, as far as payments cares."""

    id: str
    status: str
    amount: int
    currency: str
    order_id: str | None  # metadata.orderId
    next_action_url: str | None = None
    error_message: str | None = None


def why_intent_does_not_pay(
    intent: Intent, *, order_id: UUID, price: Decimal, currency: str
) -> str | None:
    """None when ``intent`` is a succeeded charge of exactly this order's amount; else why not.

    Only Stripe's own answer counts (a webhook body proves nothing by itself)."""
    if intent.order_id != str(order_id):
        return f"intent is for order {intent.order_id}, not {order_id}"
    if intent.status != SUCCEEDED:
        return f"intent status is {intent.status}"
    if (intent.amount, intent.currency) != (to_cents(price), currency):
        return f"intent charged {intent.amount} {intent.currency}, order costs {price} {currency}"
    return None


class Step(Enum):
    """What a new payment request may do, given the order's current attempt."""

    CLAIM = "claim"  # no attempt, or the last one failed: call Stripe
    IN_FLIGHT = "in_flight"  # another request is charging this order right now: 409
    CHECK_PENDING = "check_pending"  # an intent awaits authentication: ask Stripe first
    PAID = "paid"  # the attempt succeeded: "Order is already paid"


def next_step(attempt: PaymentAttempt | None, *, now: datetime, lease: timedelta) -> Step:
    if attempt is None or attempt.status == "failed":
        return Step.CLAIM
    if attempt.status == SUCCEEDED:
        return Step.PAID
    if attempt.status == REQUIRES_ACTION:
        return Step.CHECK_PENDING
    # "charging": its request is in flight, unless it outlived the lease (its process died;
    # should that charge have gone through, settlement refunds whichever intent comes second).
    return Step.CLAIM if attempt.claimed_at + lease <= now else Step.IN_FLIGHT


class Settlement(Enum):
    """What to do with a PaymentIntent Stripe has charged, decided under the order's row lock."""

    RECORD = "record"  # store the payment, publish payment.created
    ALREADY_RECORDED = "already_recorded"  # this very intent is stored (a twin request, a webhook)
    REFUND_CANCELLED = "refund_cancelled"  # the order was cancelled meanwhile
    REFUND_DUPLICATE = "refund_duplicate"  # another intent already paid this order


def settle(order_status: str, *, recorded_intent: str | None, charged_intent: str) -> Settlement:
    """A charge accepted before the deadline is recorded even if it lands after it: orders only
    cancels ``ORDERS_PAYMENT_GRACE_SECONDS`` after ``expiresAt``, and a cancelled order is
    refunded."""
    if recorded_intent == charged_intent:
        return Settlement.ALREADY_RECORDED
    if recorded_intent is not None:
        return Settlement.REFUND_DUPLICATE
    if order_status == CANCELLED:
        return Settlement.REFUND_CANCELLED
    return Settlement.RECORD


def charge_idempotency_key(order_id: UUID, attempt: int) -> str:
    """One Stripe charge per attempt: a retried call of the same attempt replays Stripe's
    first answer; a new attempt (after a decline, another card) is a new charge."""
    return f"pay-{order_id}-{attempt}"


def refund_idempotency_key(intent_id: str) -> str:
    """At most one refund per PaymentIntent, however many times we decide to refund it."""
    return f"refund-{intent_id}"


def refund_is_parked(attempts: int, max_attempts: int) -> bool:
    """A refund that failed this often needs a human: it stops blocking the loop's retries."""
    return attempts >= max_attempts
