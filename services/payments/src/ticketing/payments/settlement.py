"""Settling a charge: once Stripe has charged, record the payment or give the money back.

Runs under the replicated order's row lock (``SELECT … FOR UPDATE``), so a cancellation
(``order.cancelled`` from an expiry) and a payment for the same order are serialised: either
the payment is recorded first (orders then refuses to cancel a paid order), or the cancellation
is, and the charge is refunded. Used by ``POST /api/payments`` and by Stripe's webhook.
"""

from __future__ import annotations

import logging
from uuid import UUID

import sqlalchemy as sa

from ticketing.common.events import PaymentCreated, PaymentCreatedData
from ticketing.common.uow import UnitOfWork
from ticketing.payments import domain
from ticketing.payments.domain import Settlement
from ticketing.payments.models import Order, Payment
from ticketing.payments.refunds import owe_refund, refund_owed
from ticketing.payments.stripe_gateway import StripeGateway

logger = logging.getLogger("ticketing.payments")


async def recorded_payment(uow: UnitOfWork, order_id: UUID) -> Payment | None:
    payment: Payment | None = await uow.session.scalar(
        sa.select(Payment).where(Payment.order_id == order_id)
    )
    return payment


async def _locked_order(uow: UnitOfWork, order_id: UUID) -> Order | None:
    order: Order | None = await uow.session.scalar(
        sa.select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return order


async def settle_charge(
    uow: UnitOfWork, gateway: StripeGateway, *, order_id: UUID, intent_id: str
) -> tuple[Settlement, Payment | None]:
    """Record the charged intent as the order's payment (staged on ``uow``, the caller commits),
    or refund it; returns the decision and the order's recorded payment, if any."""
    order = await _locked_order(uow, order_id)
    if order is None:
        raise LookupError(f"Order {order_id} is not replicated here")
    payment = await recorded_payment(uow, order_id)
    decision = domain.settle(
        order.status,
        recorded_intent=payment.stripe_id if payment else None,
        charged_intent=intent_id,
    )
    if decision is Settlement.RECORD:
        payment = Payment(order_id=order_id, stripe_id=intent_id)
        uow.session.add(payment)
        await uow.session.flush()
        uow.publish(
            PaymentCreated(
                data=PaymentCreatedData(id=payment.id, order_id=order_id, stripe_id=intent_id)
            )
        )
    elif decision in (Settlement.REFUND_CANCELLED, Settlement.REFUND_DUPLICATE):
        await owe_refund(uow.session, intent_id=intent_id, order_id=order_id, reason=decision.value)
        await uow.commit()  # the debt is durable (and the row lock released) before Stripe
        try:
            await refund_owed(uow.session, gateway, [intent_id])
        except Exception:
            logger.exception("Refund of %s failed; the refund loop will retry", intent_id)
    return decision, payment
