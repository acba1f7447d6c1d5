"""Payment rules, pure: who may pay which order, what to do once Stripe has charged, which
idempotency keys make retries safe, and how the order replica follows its versions."""

from __future__ import annotations

import hashlib
from enum import Enum
from uuid import UUID

from ticketing.common.errors import BadRequestError, NotAuthorizedError, NotFoundError
from ticketing.payments.models import Order

CANCELLED = "cancelled"
COMPLETE = "complete"
CANNOT_PAY_CANCELLED = "Cannot pay for a cancelled order"
ALREADY_PAID = "Order is already paid"


def ensure_payable(order: Order | None, *, by: UUID, paid: bool) -> Order:
    """The order ``by`` may pay now; ``paid`` says whether a payment is already stored."""
    if order is None:
        raise NotFoundError()
    if order.user_id != by:
        raise NotAuthorizedError()
    if order.status == CANCELLED:
        raise BadRequestError(CANNOT_PAY_CANCELLED)
    if paid or order.status == COMPLETE:
        raise BadRequestError(ALREADY_PAID)
    return order


class Settlement(Enum):
    """What to do with a PaymentIntent Stripe has charged, decided under the order's row lock."""

    RECORD = "record"  # store the payment, publish payment.created
    ALREADY_RECORDED = "already_recorded"  # this very intent is stored (a twin request, a webhook)
    REFUND_CANCELLED = "refund_cancelled"  # the order expired or was cancelled meanwhile
    REFUND_DUPLICATE = "refund_duplicate"  # another intent already paid this order


def settle(order_status: str, *, recorded_intent: str | None, charged_intent: str) -> Settlement:
    if recorded_intent == charged_intent:
        return Settlement.ALREADY_RECORDED
    if recorded_intent is not None:
        return Settlement.REFUND_DUPLICATE
    if order_status == CANCELLED:
        return Settlement.REFUND_CANCELLED
    return Settlement.RECORD


def charge_idempotency_key(order_id: UUID, token: str) -> str:
    """One charge per order *and card*: a double submit or a retry with the same card replays
    Stripe's first answer (charged once); after a decline, another card is a new attempt."""
    card = hashlib.sha256(token.encode()).hexdigest()[:32]
    return f"pay-{order_id}-{card}"


def refund_idempotency_key(intent_id: str) -> str:
    """At most one refund per PaymentIntent, however many times we decide to refund it."""
    return f"refund-{intent_id}"
