"""What changes orders, whoever asks (a route, a listener, the sweep): each use case applies a
domain rule, persists it (or stages it), and stages the matching event on the unit of work.
None commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from ticketing.common.contracts import utcnow
from ticketing.common.db import banned_users, table_of
from ticketing.common.errors import BadRequestError, NotFoundError
from ticketing.common.uow import AdvisoryLock, UnitOfWork
from ticketing.orders import domain
from ticketing.orders.models import LIVE_ORDER, Order, Ticket
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


def buyer_lock(user_id: UUID) -> AdvisoryLock:
    """Held while this buyer places an order, until the transaction ends."""
    return AdvisoryLock(BUYER_LOCK_CLASS, str(user_id))


async def place_order(
    uow: UnitOfWork,
    *,
    user_id: UUID,
    ticket_id: UUID,
    window: timedelta,
    max_unpaid_orders: int,
) -> Order:
    """Reserve the ticket, if the rules of ``domain.ensure_orderable`` allow it; the order
    and its ``order.created`` are staged, written by the commit in one statement.

    One buyer's orders are serialised (``buyer_lock``, unless the Idempotency-Key's claim
    took it already) before their unpaid orders are counted, so concurrent requests cannot
    all pass a limit they reach together; what the rules look at is read in one query after
    it. The partial unique index decides between racing buyers of one ticket: the loser's
    insert does nothing (ON CONFLICT), whatever either of them read before, and its commit
    fails with "Ticket is already reserved"."""
    await uow.lock(buyer_lock(user_id))
    facts = {"ticket_id": ticket_id, "buyer": user_id}
    found = (await uow.session.execute(ORDER_REQUEST, facts)).one_or_none()
    if found is None:
        raise NotFoundError()
    ticket, seller_banned, reserved, unpaid_orders = found
    request = domain.OrderRequest(
        ticket=ticket,
        buyer=user_id,
        seller_banned=seller_banned,
        reserved=reserved,
        unpaid_orders=unpaid_orders,
    )
    domain.ensure_orderable(request, max_unpaid_orders=max_unpaid_orders)
    order = Order(
        id=uuid4(),
        user_id=user_id,
        ticket=ticket,
        status="created",
        expires_at=domain.expiry_for(utcnow(), window),
        version=0,
    )
    uow.stage(_insert(order), then=_refuse_if_reserved)
    uow.publish(order_created(order))
    return order


def _order_request() -> sa.Select[Ticket, bool, bool, int]:
    """The ticket and every fact ``domain.ensure_orderable`` looks at, in one query, for the
    bound ``ticket_id`` and ``buyer``."""
    ticket_id = sa.bindparam("ticket_id", type_=sa.Uuid)
    buyer = sa.bindparam("buyer", type_=sa.Uuid)
    seller_banned = sa.exists().where(banned_users.c.user_id == Ticket.user_id)
    reserved = sa.exists().where(Order.ticket_id == ticket_id, Order.status != "cancelled")
    unpaid = (
        sa.select(sa.func.count())
        .select_from(Order)
        .where(Order.user_id == buyer, Order.status == "created")
        .scalar_subquery()
    )
    return sa.select(Ticket, seller_banned, reserved, unpaid).where(Ticket.id == ticket_id)


ORDER_REQUEST = _order_request()  # built once, bound per order (``common.db.bound``)


def _insert(order: Order) -> sa.Insert:
    """The order's row, unless a live order holds its ticket (``ONE_LIVE_ORDER_PER_TICKET``)."""
    orders = table_of(Order)
    values = {
        "id": order.id,
        "user_id": order.user_id,
        "ticket_id": order.ticket.id,
        "status": order.status,
        "expires_at": order.expires_at,
        "version": order.version,
    }
    return (
        insert(orders)
        .values(values)
        .on_conflict_do_nothing(
            index_elements=[orders.c.ticket_id], index_where=sa.text(LIVE_ORDER)
        )
        .returning(orders.c.id)
    )


def _refuse_if_reserved(inserted: sa.Result[Any]) -> None:
    if inserted.first() is None:
        raise BadRequestError(domain.TICKET_RESERVED)


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
    uow: UnitOfWork,
    *,
    now: datetime,
    grace: timedelta,
    limit: int = 100,
    skip: Collection[UUID] = (),
) -> list[Order]:
    """Overdue orders no other transaction holds (replicas sweeping at once share the work),
    except those in ``skip``."""
    query = (
        sa.select(Order)
        .where(Order.status == "created", Order.expires_at < now - grace)  # uses the index
        .where(Order.id.not_in(skip))
        .order_by(Order.expires_at)
        .limit(limit)
        .with_for_update(of=Order, skip_locked=True)
    )
    candidates = (await uow.session.scalars(query)).all()
    return [order for order in candidates if domain.is_overdue(order, now, grace)]
