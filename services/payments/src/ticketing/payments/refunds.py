"""Refunds owed after the fact: a payment recorded for an order that orders then cancelled.

A charge and an expiry can cross between services: payments records the payment while its copy
of the order is still open, and orders expires the order before ``payment.created`` arrives.
Orders keeps the order cancelled (the ticket may already be sold again), and payments, told by
``order.cancelled``, refunds here. The refund's idempotency key is derived from the
PaymentIntent, so a crash between refunding and marking it refunded repeats nothing.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.contracts import utcnow
from ticketing.common.service import ServiceRuntime
from ticketing.payments.config import PaymentsSettings
from ticketing.payments.models import Payment
from ticketing.payments.stripe_gateway import StripeGateway

BATCH = 20


async def refund_due_payments(
    sessionmaker: async_sessionmaker[AsyncSession], gateway: StripeGateway
) -> int:
    """Refund one batch of payments owed back; returns how many were refunded."""
    async with sessionmaker() as session, session.begin():
        due = (
            await session.scalars(
                sa.select(Payment)
                .where(Payment.refund_requested_at.is_not(None), Payment.refunded_at.is_(None))
                .order_by(Payment.refund_requested_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)  # replicas share the work
            )
        ).all()
        for payment in due:
            await gateway.refund(payment.stripe_id)
            payment.refunded_at = utcnow()
    return len(due)


async def refund_cancelled_payments(runtime: ServiceRuntime) -> None:
    """Background loop of the payments service (supervised: a Stripe outage is retried)."""
    settings = runtime.settings
    assert isinstance(settings, PaymentsSettings)
    gateway: StripeGateway = runtime.extras["stripe"]
    while True:
        await refund_due_payments(runtime.sessionmaker, gateway)
        await asyncio.sleep(settings.refund_poll_seconds)
