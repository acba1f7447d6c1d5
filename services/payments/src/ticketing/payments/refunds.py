"""Refunds: every charge we must give back is first recorded as owed, then refunded.

Three ways a charge is owed back: the order was cancelled before the charge was recorded, another
charge already paid the order (a second card raced the first), or orders cancelled the order
after payments recorded the charge (an expiry and a payment crossed between services; orders
keeps it cancelled because the ticket may be sold again, and ``order.cancelled`` tells us).
Recording first means a Stripe outage or a crash never loses a refund: the supervised loop here
finishes whatever is still owed. The refund's idempotency key is derived from the
PaymentIntent, so trying twice refunds once. A refund Stripe keeps refusing is parked after a
few attempts (logged, listed by ``python -m ticketing.payments refunds``) instead of being retried
forever.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import sqlalchemy as sa
from prometheus_client import Gauge
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.common.contracts import utcnow
from ticketing.payments import domain
from ticketing.payments.models import RefundOwed
from ticketing.payments.stripe_gateway import PaymentsRuntime, StripeGateway

logger = logging.getLogger("ticketing.payments.refunds")
BATCH = 20
DEFAULT_MAX_ATTEMPTS = 5


async def owe_refund(session: AsyncSession, *, intent_id: str, order_id: UUID, reason: str) -> None:
    """Record that ``intent_id`` must be refunded (in the caller's transaction)."""
    logger.warning("Order %s: %s, refund owed for %s", order_id, reason, intent_id)
    statement = insert(RefundOwed).values(intent_id=intent_id, order_id=order_id, reason=reason)
    await session.execute(statement.on_conflict_do_nothing())


async def refund_owed(
    session: AsyncSession,
    gateway: StripeGateway,
    intent_ids: list[str] | None = None,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int:
    """Refund what is owed (all, or just ``intent_ids``); returns how many were refunded.

    Each refund is attempted and committed on its own: one that Stripe refuses (a disputed
    charge) is counted, and parked once it failed ``max_attempts`` times; it never holds up
    the others."""
    await session.rollback()
    refunded = 0
    for intent_id in await _owed(session, intent_ids):
        if await _refund_one(session, gateway, intent_id, max_attempts):
            refunded += 1
    return refunded


async def _owed(session: AsyncSession, intent_ids: list[str] | None) -> list[str]:
    query = sa.select(RefundOwed.intent_id).where(
        RefundOwed.refunded_at.is_(None), RefundOwed.parked_at.is_(None)
    )
    if intent_ids is not None:
        query = query.where(RefundOwed.intent_id.in_(intent_ids))
    owed = list(await session.scalars(query.order_by(RefundOwed.requested_at).limit(BATCH)))
    await session.rollback()
    return owed


async def _refund_one(
    session: AsyncSession, gateway: StripeGateway, intent_id: str, max_attempts: int
) -> bool:
    """One refund in its own transaction, its row locked so replicas do not both send it."""
    async with session.begin():
        refund = await session.scalar(
            sa.select(RefundOwed)
            .where(RefundOwed.intent_id == intent_id, RefundOwed.refunded_at.is_(None))
            .with_for_update(skip_locked=True)
        )
        if refund is None or refund.parked_at is not None:
            return False
        try:
            await gateway.refund(intent_id)
        except Exception as exc:  # Stripe refused or is down: count it, go on with the others
            refund.attempts += 1
            refund.last_error = repr(exc)[:1000]
            if domain.refund_is_parked(refund.attempts, max_attempts):
                refund.parked_at = utcnow()
                logger.error(
                    "Refund of %s for order %s parked after %d attempts: %s",
                    intent_id,
                    refund.order_id,
                    refund.attempts,
                    refund.last_error,
                )
            else:
                logger.warning("Refund of %s failed (%s); will retry", intent_id, exc)
            return False
        refund.refunded_at = utcnow()
        return True


async def parked_refunds(session: AsyncSession) -> list[RefundOwed]:
    """Refunds that need a human (listed by ``python -m ticketing.payments refunds``)."""
    query = sa.select(RefundOwed).where(RefundOwed.parked_at.is_not(None))
    return list(await session.scalars(query.order_by(RefundOwed.parked_at)))


REFUNDS = Gauge(
    "ticketing_payments_refunds", "Refunds not done yet: owed (being retried) or parked", ["state"]
)


async def _count_refunds(session: AsyncSession) -> None:
    """What ``/metrics`` shows of refunds: owed ones should drain, parked ones need a human."""
    parked = RefundOwed.parked_at.is_not(None)
    counts = await session.execute(
        sa.select(sa.case((parked, "parked"), else_="owed"), sa.func.count())
        .where(RefundOwed.refunded_at.is_(None))
        .group_by(parked)
    )
    found = {state: count for state, count in counts.all()}
    for state in ("owed", "parked"):
        REFUNDS.labels(state).set(found.get(state, 0))


async def refund_what_is_owed(runtime: PaymentsRuntime) -> None:
    """Background loop of the payments service (supervised: a crash is retried)."""
    settings, gateway = runtime.settings, runtime.context
    while True:
        async with runtime.sessionmaker() as session:
            await refund_owed(session, gateway, max_attempts=settings.refund_max_attempts)
            await _count_refunds(session)
        await asyncio.sleep(settings.refund_poll_seconds)
