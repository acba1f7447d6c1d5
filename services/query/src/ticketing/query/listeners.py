"""How each event shapes the read model: one small handler per event type, all of them.

Rules every handler follows:
- It first locks what it writes (``locks.py``): the listing whose status it derives (the
  ticket id comes with every ticket and order event; a payment finds it in its order's row),
  the order for order and payment events, all under the read model's shared lock. So events
  of one ticket apply one after another on every replica, events of different tickets at
  once, and none while a rebuild (``rebuild.py``) replaces the tables.
- Versions order each aggregate: ticket versions come from ``ticket.*`` events, order
  versions from ``order.*`` events. An early event raises ``EventOutOfOrder`` (redelivered
  later); an applied version is a no-op.
- Events of *different* aggregates may arrive in any order: each table holds one aggregate's
  facts, and the listing's derived status is recomputed from all of them after every change.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.common.consumer import Subscriptions
from ticketing.common.contracts import OrderStatus
from ticketing.common.db import bound, table_of
from ticketing.common.events import (
    ExpirationComplete,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    PaymentCreated,
    SessionRevoked,
    TicketCreated,
    TicketUpdated,
    UserBanned,
    UserCreated,
)
from ticketing.common.uow import UnitOfWork
from ticketing.common.versions import should_apply
from ticketing.query import domain
from ticketing.query.locks import listing_key, lock_for_writing, order_key
from ticketing.query.models import Listing, Order, Payment, User


async def on_ticket_created(event: TicketCreated, uow: UnitOfWork) -> None:
    """A ticket is created once: a row already there means this event is applied (the insert
    does nothing). Its orders may have come first, so the status is derived before the insert,
    which goes as one plain statement (no lookup first, no ORM flush)."""
    data = event.data
    await lock_for_writing(uow.session, listing_key(data.id))
    status, updated_at = await derived_state(uow.session, data.id, None, event.occurred_at)
    listing = {
        "id": data.id,
        "title": data.title,
        "price": data.price,
        "user_id": data.user_id,
        "version": data.version,
        "order_id": None,
        "status": status,
        "created_at": event.occurred_at,
        "ticket_changed_at": event.occurred_at,
        "updated_at": updated_at,
    }
    await uow.session.execute(INSERT_LISTING, listing)


LISTINGS = table_of(Listing)
INSERT_LISTING = (
    insert(LISTINGS)
    .values(bound(LISTINGS, *(column.name for column in LISTINGS.columns)))
    .on_conflict_do_nothing(index_elements=[LISTINGS.c.id])
)
"""Built once (``common.db.bound`` says why), on the table (``common.db.table_of``), as the
statements every event runs."""


async def on_ticket_updated(event: TicketUpdated, uow: UnitOfWork) -> None:
    data = event.data
    await lock_for_writing(uow.session, listing_key(data.id))
    listing = await uow.session.get(Listing, data.id)
    if not should_apply(listing.version if listing else None, data.version):
        return
    assert listing is not None
    listing.title, listing.price, listing.user_id = data.title, data.price, data.user_id
    listing.version, listing.order_id = data.version, data.order_id
    listing.ticket_changed_at = event.occurred_at
    await derive_listing_state(uow.session, listing)


async def on_order_created(event: OrderCreated, uow: UnitOfWork) -> None:
    data = event.data
    await lock_for_writing(uow.session, order_key(data.id), listing_key(data.ticket.id))
    if await uow.session.get(Order, data.id) is not None:
        return  # an order is created once: any row means this version is applied
    uow.session.add(
        Order(
            id=data.id,
            user_id=data.user_id,
            status=data.status,
            expires_at=data.expires_at,
            version=data.version,
            ticket_id=data.ticket.id,
            ticket_price=data.ticket.price,
            created_at=event.occurred_at,
            changed_at=event.occurred_at,
        )
    )
    await refresh_listing(uow.session, data.ticket.id)


async def on_order_cancelled(event: OrderCancelled, uow: UnitOfWork) -> None:
    await _advance_order(uow, event, "cancelled")


async def on_order_completed(event: OrderCompleted, uow: UnitOfWork) -> None:
    await _advance_order(uow, event, "complete")


async def on_payment_created(event: PaymentCreated, uow: UnitOfWork) -> None:
    """Under the order's key: an ``order.created`` applying at this moment on another replica
    either committed before (its row names the ticket to lock and derive) or waits and then
    sees this payment when it derives the listing itself."""
    data = event.data
    await lock_for_writing(uow.session, order_key(data.order_id))
    row = {"id": data.id, "order_id": data.order_id, "stripe_id": data.stripe_id}
    stmt = (
        insert(table_of(Payment))
        .values(**row, created_at=event.occurred_at)
        .on_conflict_do_nothing()
    )
    await uow.session.execute(stmt)
    order = await uow.session.get(Order, data.order_id)
    if order is not None:  # otherwise order.created will find the payment when it comes
        await lock_for_writing(uow.session, listing_key(order.ticket_id))
        await refresh_listing(uow.session, order.ticket_id)


async def on_expiration_complete(event: ExpirationComplete, uow: UnitOfWork) -> None:
    """Nothing to show yet: the orders service decides (it may be paid already) and its
    ``order.cancelled`` is what changes the order and the listing."""


async def on_user_created(event: UserCreated, uow: UnitOfWork) -> None:
    """No listing shows a user's email: the shared lock only keeps this out of a rebuild."""
    await lock_for_writing(uow.session)
    stmt = insert(table_of(User)).values(id=event.data.id, email=event.data.email)
    await uow.session.execute(stmt.on_conflict_do_nothing())


async def on_user_banned(event: UserBanned, uow: UnitOfWork) -> None:
    """The ban itself is recorded by common's handler, which runs next, under this lock. It
    changes no listing row (the listing page leaves banned sellers out as it reads), so the
    read model's shared lock is enough: it keeps the ban out of a rebuild's way."""
    await lock_for_writing(uow.session)


async def on_session_revoked(event: SessionRevoked, uow: UnitOfWork) -> None:
    """Nothing to show; common records the revocation next, under this lock."""
    await lock_for_writing(uow.session)


async def _advance_order(
    uow: UnitOfWork, event: OrderCancelled | OrderCompleted, status: OrderStatus
) -> None:
    data = event.data
    await lock_for_writing(uow.session, order_key(data.id), listing_key(data.ticket.id))
    order = await uow.session.get(Order, data.id)
    if not should_apply(order.version if order else None, data.version):
        return
    assert order is not None
    order.status, order.version, order.changed_at = status, data.version, event.occurred_at
    await refresh_listing(uow.session, data.ticket.id)  # the order's ticket, the one locked


async def refresh_listing(session: AsyncSession, ticket_id: UUID) -> None:
    listing = await session.get(Listing, ticket_id)
    if listing is not None:  # else ticket.created has not arrived; it derives the state itself
        await derive_listing_state(session, listing)


async def derive_listing_state(session: AsyncSession, listing: Listing) -> None:
    """Recompute a listing's status and ``updatedAt`` from everything known of its ticket."""
    listing.status, listing.updated_at = await derived_state(
        session, listing.id, listing.order_id, listing.ticket_changed_at
    )


async def derived_state(
    session: AsyncSession, ticket_id: UUID, reserved_by: UUID | None, ticket_changed_at: datetime
) -> tuple[domain.ListingStatus, datetime]:
    """A listing's status and ``updatedAt``, given its ticket's ``orderId`` and last change,
    from every known order of the ticket and its payment (one query)."""
    rows = (await session.execute(TICKET_ORDERS, {"ticket_id": ticket_id})).all()
    orders = [domain.KnownOrder(id=r[0], status=r[1], paid=r[3] is not None) for r in rows]
    changes = [ticket_changed_at, *(r[2] for r in rows), *(r[3] for r in rows)]
    return domain.listing_status(orders, reserved_by=reserved_by), domain.last_change(changes)


TICKET_ORDERS = (
    sa.select(Order.id, Order.status, Order.changed_at, Payment.created_at)
    .outerjoin(Payment, Payment.order_id == Order.id)
    .where(Order.ticket_id == sa.bindparam("ticket_id"))
)


SUBSCRIPTIONS: Subscriptions = {
    TicketCreated: on_ticket_created,
    TicketUpdated: on_ticket_updated,
    OrderCreated: on_order_created,
    OrderCancelled: on_order_cancelled,
    OrderCompleted: on_order_completed,
    ExpirationComplete: on_expiration_complete,
    PaymentCreated: on_payment_created,
    UserCreated: on_user_created,
    UserBanned: on_user_banned,
    SessionRevoked: on_session_revoked,
}
"""Every event type of the platform (checked against ``EVENT_TYPES`` in the tests)."""
