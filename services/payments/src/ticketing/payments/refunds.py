"""Refunds: every charge we must give back is first recorded as owed, then refunded.

Three ways a charge is owed back: the order was cancelled before the charge was recorded, another
charge already paid the order (a second card raced the first), or orders cancelled the order
after payments recorded the charge (an expiry and a payment crossed between services; orders
keeps it cancelled because the ticket may be sold again, and ``order.cancelled`` tells us).
Recording first means a Stripe outage or a crash never loses a refund: the supervised loop here
finishes whatever is still owed. The refund's idempotency key is derived from the
PaymentIntent, so trying twice refunds once.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.common.contracts import utcnow
from ticketing.common.service import ServiceRuntime
from ticketing.payments.config import PaymentsSettings
from ticketing.payments.models import RefundOwed
from ticketing.payments.stripe_gateway import StripeGateway

logger = logging.getLogger("ticketing.payments.refunds")
BATCH = 20


async def owe_refund(session: AsyncSession, *, intent_id: str, order_id: UUID, reason: str) -> None:
    """Record that ``intent_id`` must be refunded (in the caller's transaction)."""
    logger.warning("Order %s: %s, refund owed for %s", order_id, reason, intent_id)
    statement = insert(RefundOwed).values(intent_id=intent_id, order_id=order_id, reason=reason)
    await session.execute(statement.on_conflict_do_nothing())


async def refund_owed(
    session: AsyncSession, gateway: StripeGateway, intent_ids: list[str] | None = None
) -> int:
    """Refund what is owed (all, or just ``intent_ids``) and commit; returns how many."""
    query = sa.select(RefundOwed).where(RefundOwed.refunded_at.is_(None))
    if intent_ids is not None:
        query = query.where(RefundOwed.intent_id.in_(intent_ids))
    owed = (
        await session.scalars(
            query.order_by(RefundOwed.requested_at)
            .limit(BATCH)
            .with_for_update(skip_locked=True)  # replicas share the work
        )
    ).all()
    for refund in owed:
        await gateway.refund(refund.intent_id)
        refund.refunded_at = utcnow()
    await session.commit()
    return len(owed)


async def refund_what_is_owed(runtime: ServiceRuntime) -> None:
    """Background loop of the payments service (supervised: a Stripe outage is retried)."""
    settings = runtime.settings
    assert isinstance(settings, PaymentsSettings)
    gateway: StripeGateway = runtime.extras["stripe"]
    while True:
        async with runtime.sessionmaker() as session:
            await refund_owed(session, gateway)
        await asyncio.sleep(settings.refund_poll_seconds)
