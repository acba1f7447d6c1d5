"""Paying for an order: claim the attempt, call Stripe with no transaction open, then settle.

1. **Claim** (one committed transaction, under the replicated order's row lock): the order is
   payable by this buyer now (deadline by our own clock), and no other attempt is in flight.
   The claim is the ``payment_attempts`` row of the order, so two requests, two tabs or two
   cards never have two charges in flight for one order: the loser gets 409.
2. **Charge**: one PaymentIntent per attempt (idempotency key from the attempt number).
3. **Outcome**: ``succeeded`` → settle (record + ``payment.created``, or refund); a card that
   needs 3-D Secure → 202 with the URL to send the buyer to, the attempt waits in
   ``requires_action`` and the order stays payable; a decline → the attempt fails, 400 with
   Stripe's message. A Stripe outage leaves the attempt claimed until its lease ends (the
   charge may have happened; the webhook settles it if so).

When the buyer comes back from authenticating (or a webhook says so), ``settle_authenticated``
asks Stripe what became of the intent and settles exactly like a direct charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from ticketing.common.contracts import utcnow
from ticketing.common.errors import (
    BadRequestError,
    ConflictError,
    NotAuthorizedError,
    NotFoundError,
)
from ticketing.common.uow import UnitOfWork
from ticketing.payments import domain
from ticketing.payments.config import PaymentsSettings
from ticketing.payments.domain import Intent, Settlement, Step
from ticketing.payments.models import PaymentAttempt
from ticketing.payments.settlement import (
    locked_order,
    mark_attempt,
    recorded_payment,
    settle_charge,
)
from ticketing.payments.stripe_gateway import StripeGateway

REFUSALS = {
    Settlement.REFUND_CANCELLED: domain.CANNOT_PAY_CANCELLED,
    Settlement.REFUND_DUPLICATE: domain.ALREADY_PAID,
}


@dataclass(frozen=True)
class Paid:
    payment_id: UUID


@dataclass(frozen=True)
class NeedsAuthentication:
    next_action_url: str


Outcome = Paid | NeedsAuthentication


@dataclass(frozen=True)
class _Claimed:
    number: int
    price: Decimal


@dataclass(frozen=True)
class _Pending:
    intent_id: str


async def pay(
    uow: UnitOfWork,
    gateway: StripeGateway,
    settings: PaymentsSettings,
    *,
    order_id: UUID,
    buyer: UUID,
    token: str,
) -> Outcome:
    claim = await _claim(uow, settings, order_id=order_id, buyer=buyer)
    if isinstance(claim, _Pending):
        # The buyer pays again while an earlier intent awaits authentication: that intent
        # may have succeeded meanwhile (then this is a payment), else it is abandoned.
        intent = await gateway.cancel(claim.intent_id)
        if intent.status == domain.SUCCEEDED:
            return await _settled(uow, gateway, order_id, intent)
        await _release(uow, order_id, intent, intent.error_message)
        claim = await _claim(uow, settings, order_id=order_id, buyer=buyer)
        if not isinstance(claim, _Claimed):
            raise ConflictError(domain.IN_PROGRESS)
    return_url = f"{settings.client_url.rstrip('/')}/orders/{order_id}/authenticated"
    try:
        intent = await gateway.charge(
            order_id=order_id,
            price=claim.price,
            token=token,
            attempt=claim.number,
            return_url=return_url,
        )
    except domain.CardDeclinedError as declined:
        await _release(uow, order_id, None, declined.message)
        raise
    return await _outcome(uow, gateway, order_id, intent)


async def settle_authenticated(
    uow: UnitOfWork, gateway: StripeGateway, *, order_id: UUID, buyer: UUID
) -> Outcome:
    """The buyer is back from 3-D Secure: settle what Stripe says about the pending intent."""
    order = await locked_order(uow, order_id)
    if order is None:
        raise NotFoundError()
    if order.user_id != buyer:
        raise NotAuthorizedError()
    if (payment := await recorded_payment(uow, order_id)) is not None:
        return Paid(payment.id)
    attempt = await uow.session.get(PaymentAttempt, order_id)
    if attempt is None or attempt.intent_id is None or attempt.status != domain.REQUIRES_ACTION:
        raise BadRequestError("This order has no payment awaiting authentication")
    intent_id = attempt.intent_id
    await uow.session.rollback()
    return await _outcome(uow, gateway, order_id, await gateway.retrieve(intent_id))


async def _outcome(
    uow: UnitOfWork, gateway: StripeGateway, order_id: UUID, intent: Intent
) -> Outcome:
    if intent.status == domain.SUCCEEDED:
        return await _settled(uow, gateway, order_id, intent)
    if intent.status == domain.REQUIRES_ACTION and intent.next_action_url:
        await mark_attempt(uow, order_id, intent, status=domain.REQUIRES_ACTION)
        await uow.commit()
        return NeedsAuthentication(intent.next_action_url)
    message = intent.error_message or domain.NOT_COMPLETED
    await _release(uow, order_id, intent, message)
    raise domain.CardDeclinedError(message)


async def _settled(
    uow: UnitOfWork, gateway: StripeGateway, order_id: UUID, intent: Intent
) -> Outcome:
    """Settle (staged: the caller's commit records it with the idempotency key's answer)."""
    decision, payment = await settle_charge(uow, gateway, order_id=order_id, intent=intent)
    if decision in REFUSALS:
        raise BadRequestError(REFUSALS[decision])
    assert payment is not None
    return Paid(payment.id)


async def _claim(
    uow: UnitOfWork, settings: PaymentsSettings, *, order_id: UUID, buyer: UUID
) -> _Claimed | _Pending:
    now = utcnow()
    order = await locked_order(uow, order_id)
    paid = order is not None and await recorded_payment(uow, order_id) is not None
    order = domain.ensure_payable(order, by=buyer, paid=paid, now=now)
    attempt = await uow.session.get(PaymentAttempt, order_id, populate_existing=True)
    step = domain.next_step(
        attempt, now=now, lease=timedelta(seconds=settings.attempt_lease_seconds)
    )
    if step is Step.PAID:
        await uow.rollback()
        raise BadRequestError(domain.ALREADY_PAID)
    if step is Step.IN_FLIGHT:
        await uow.rollback()
        raise ConflictError(domain.IN_PROGRESS)
    if step is Step.CHECK_PENDING:
        assert attempt is not None and attempt.intent_id is not None
        intent_id = attempt.intent_id
        await uow.rollback()
        return _Pending(intent_id)
    if attempt is None:
        attempt = PaymentAttempt(order_id=order_id, number=0)
        uow.session.add(attempt)
    attempt.number += 1
    attempt.status, attempt.claimed_at = "charging", now
    attempt.intent_id = attempt.next_action_url = attempt.last_error = None
    claimed = _Claimed(attempt.number, order.price)
    await uow.commit()  # the claim is durable before Stripe is called
    return claimed


async def _release(
    uow: UnitOfWork, order_id: UUID, intent: Intent | None, error: str | None
) -> None:
    """The attempt ended without a charge: the order may be paid again."""
    await uow.rollback()
    await mark_attempt(uow, order_id, intent, status="failed", error=error)
    await uow.commit()
