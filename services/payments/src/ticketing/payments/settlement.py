"""Settling a charge: once Stripe says an intent succeeded, record the payment or give it back.

Runs under the replicated order's row lock (``SELECT … FOR UPDATE``), so a cancellation
(``order.cancelled`` from an expiry) and a payment for the same order are serialised: either
the payment is recorded first (orders then refuses to cancel a paid order), or the cancellation
is, and the charge is refunded. Only an intent Stripe itself reports ``succeeded`` for this
order's amount and currency is settled. Used by the payment routes and by Stripe's webhook.
"""

from __future__ import annotations

import logging
from uuid import UUID

import sqlalchemy as sa

from ticketing.common.events import PaymentCreated, PaymentCreatedData
from ticketing.common.uow import UnitOfWork
from ticketing.payments import domain
from ticketing.payments.domain import Intent, Settlement
from ticketing.payments.models import Order, Payment, PaymentAttempt
from ticketing.payments.refunds import owe_refund, refund_owed
from ticketing.payments.stripe_gateway import StripeGateway

logger = logging.getLogger("ticketing.payments")


class IntentDoesNotPay(Exception):  # noqa: N818 - names the situation
    """The intent is not a succeeded charge of this order's amount: nothing is recorded."""


async def recorded_payment(uow: UnitOfWork, order_id: UUID) -> Payment | None:
    payment: Payment | None = await uow.session.scalar(
        sa.select(Payment).where(Payment.order_id == order_id)
    )
    return payment


async def locked_order(uow: UnitOfWork, order_id: UUID) -> Order | None:
    order: Order | None = await uow.session.scalar(
        sa.select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return order


async def settle_charge(
    uow: UnitOfWork, gateway: StripeGateway, *, order_id: UUID, intent: Intent
) -> tuple[Settlement, Payment | None]:
    """Record the succeeded intent as the order's payment (staged on ``uow``, the caller
    commits), or refund it; returns the decision and the order's recorded payment, if any."""
    order = await locked_order(uow, order_id)
    if order is None:
        raise LookupError(f"Order {order_id} is not replicated here")
    reason = domain.why_intent_does_not_pay(
        intent, order_id=order_id, price=order.price, currency=gateway.currency
    )
    if reason is not None:
        raise IntentDoesNotPay(reason)
    payment = await recorded_payment(uow, order_id)
    decision = domain.settle(
        order.status,
        recorded_intent=payment.stripe_id if payment else None,
        charged_intent=intent.id,
    )
    if decision is Settlement.RECORD:
        payment = Payment(order_id=order_id, stripe_id=intent.id)
        uow.session.add(payment)
        await uow.session.flush()
        uow.publish(
            PaymentCreated(
                data=PaymentCreatedData(id=payment.id, order_id=order_id, stripe_id=intent.id)
            )
        )
        await mark_attempt(uow, order_id, intent, status=domain.SUCCEEDED)
    elif decision in (Settlement.REFUND_CANCELLED, Settlement.REFUND_DUPLICATE):
        await owe_refund(uow.session, intent_id=intent.id, order_id=order_id, reason=decision.value)
        await uow.commit()  # the debt is durable (and the row lock released) before Stripe
        try:
            await refund_owed(uow.session, gateway, [intent.id])
        except Exception:
            logger.exception("Refund of %s failed; the refund loop will retry", intent.id)
    return decision, payment


async def mark_attempt(
    uow: UnitOfWork, order_id: UUID, intent: Intent | None, *, status: str, error: str | None = None
) -> None:
    """Record what became of the order's current attempt (staged on ``uow``)."""
    values: dict[str, object] = {"status": status, "last_error": error}
    if intent is not None:
        values |= {"intent_id": intent.id, "next_action_url": intent.next_action_url}
    await uow.session.execute(
        sa.update(PaymentAttempt).where(PaymentAttempt.order_id == order_id).values(**values)
    )
