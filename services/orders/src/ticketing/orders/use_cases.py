"""What changes orders, whoever asks (a route, a listener, the sweep): each use case applies a
domain rule, persists it, and stages the matching event on the unit of work. None commits:
the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ticketing.common.contracts import utcnow
from ticketing.common.db import banned_users
from ticketing.common.errors import BadRequestError, NotFoundError
from ticketing.common.uow import UnitOfWork
from ticketing.orders import domain
from ticketing.orders.models import ONE_LIVE_ORDER_PER_TICKET, Order, Ticket
from ticketing.orders.schemas import order_cancelled, order_completed, order_created

# Advisory locks with two int4 keys live apart from single-bigint ones (the migration lock):
# (this constant, hash of the buyer id) is "this buyer is placing an order".
BUYER_LOCK_CLASS = 7_240_301


async def find_order(uow: UnitOfWork, order_id: UUID, *, lock: bool = False) -> Order | None:
    """The order with its ticket; ``lock`` holds the order row until the transaction ends."""
    query = sa.select(Order).where(Order.id == order_id)
    if lock:
        query = query.with_for_update(of=Order)
    return await uow.session.scalar(query)


async def get_order(uow: UnitOfWork, order_id: UUID, *, lock: bool = False) -> Order:
    order = await find_order(uow, order_id, lock=lock)
    if order is None:
        raise NotFoundError()
    return order


async def orders_of(uow: UnitOfWork, user_id: UUID) -> Sequence[Order]:
    query = sa.select(Order).where(Order.user_id == user_id).order_by(Order.created_at)
    return (await uow.session.scalars(query)).all()


async def place_order(
    uow: UnitOfWork,
    *,
    user_id: UUID,
    ticket_id: UUID,
    window: timedelta,
    max_unpaid_orders: int,
) -> Order:
    """Reserve the ticket, if the rules of ``domain.ensure_orderable`` allow it.

    One buyer's orders are serialised (a transaction lock on the buyer) before their unpaid
    orders are counted, so concurrent requests cannot all pass a limit they reach together.
    The partial unique index decides between racing buyers of one ticket: the loser's insert
    fails, whatever either of them read before."""
    ticket = await uow.session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFoundError()
    await _lock_buyer(uow, user_id)
    request = domain.OrderRequest(
        ticket=ticket,
        buyer=user_id,
        seller_banned=await _is_banned(uow, ticket.user_id),
        reserved=await _is_reserved(uow, ticket_id),
        unpaid_orders=await _unpaid_orders(uow, user_id),
    )
    domain.ensure_orderable(request, max_unpaid_orders=max_unpaid_orders)
    order = Order(
        user_id=user_id,
        ticket=ticket,
        status="created",
        expires_at=domain.expiry_for(utcnow(), window),
    )
    uow.session.add(order)
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        if ONE_LIVE_ORDER_PER_TICKET in str(exc.orig):
            raise BadRequestError(domain.TICKET_RESERVED) from exc
        raise
    uow.publish(order_created(order))
    return order


async def _lock_buyer(uow: UnitOfWork, user_id: UUID) -> None:
    """Hold "this buyer is ordering" until the transaction ends (commit or rollback)."""
    await uow.session.execute(
        sa.select(sa.func.pg_advisory_xact_lock(BUYER_LOCK_CLASS, sa.func.hashtext(str(user_id))))
    )


async def _is_banned(uow: UnitOfWork, user_id: UUID | None) -> bool:
    if user_id is None:
        return False
    query = sa.select(banned_users.c.user_id).where(banned_users.c.user_id == user_id)
    return await uow.session.scalar(query) is not None


async def _is_reserved(uow: UnitOfWork, ticket_id: UUID) -> bool:
    live = sa.select(Order.id).where(Order.ticket_id == ticket_id, Order.status != "cancelled")
    return bool(await uow.session.scalar(sa.select(live.exists())))


async def _unpaid_orders(uow: UnitOfWork, user_id: UUID) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(Order)
        .where(Order.user_id == user_id, Order.status == "created")
    )
    return int(await uow.session.scalar(query) or 0)


async def cancel_order(uow: UnitOfWork, order: Order) -> bool:
    """Cancel (BadRequestError if complete); False when it already was cancelled."""
    if not domain.cancel(order):
        return False
    await uow.session.flush()  # bumps the version the event carries
    uow.publish(order_cancelled(order))
    return True


async def complete_order(uow: UnitOfWork, order: Order) -> bool:
    """Mark paid (BadRequestError if cancelled); False when it already was complete."""
    if not domain.complete(order):
        return False
    await uow.session.flush()
    uow.publish(order_completed(order))
    return True


async def lock_overdue_orders(
    uow: UnitOfWork, *, now: datetime, grace: timedelta, limit: int = 100
) -> list[Order]:
    """Overdue orders no other transaction holds: replicas sweeping at once share the work."""
    query = (
        sa.select(Order)
        .where(Order.status == "created", Order.expires_at < now - grace)  # uses the index
        .order_by(Order.expires_at)
        .limit(limit)
        .with_for_update(of=Order, skip_locked=True)
    )
    candidates = (await uow.session.scalars(query)).all()
    return [order for order in candidates if domain.is_overdue(order, now, grace)]
