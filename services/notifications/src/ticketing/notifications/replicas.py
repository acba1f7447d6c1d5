"""The copies of other services' data that the emails need, kept by the version rule.

Users (address; bans live in the shared ``banned_users`` table), tickets (title and seller,
versioned by tickets), orders (buyer, ticket, price, deadline, status, versioned by orders) and
payments (the Stripe id). A read of something not replicated yet raises ``EventOutOfOrder``:
the event comes back after the one it builds on.
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.common.db import banned_users, bound, table_of
from ticketing.common.events import (
    OrderChangedData,
    OrderCreatedData,
    PaymentCreatedData,
    TicketCreatedData,
    TicketUpdatedData,
    UserCreatedData,
)
from ticketing.common.versions import EventOutOfOrder, should_apply
from ticketing.notifications.domain import Recipient
from ticketing.notifications.models import Order, Payment, Ticket, User

# Built once, values bound per event (``common.db.bound`` says why), on the tables
# (``common.db.table_of`` says why).
USERS, TICKETS, ORDERS, PAYMENTS = map(table_of, (User, Ticket, Order, Payment))
INSERT_USER = (
    insert(USERS)
    .values(bound(USERS, "id", "email"))
    .on_conflict_do_nothing(index_elements=[USERS.c.id])
)
INSERT_TICKET = (
    insert(TICKETS)
    .values(bound(TICKETS, "id", "title", "seller_id", "version"))
    .on_conflict_do_nothing(index_elements=[TICKETS.c.id])
)
ORDER_COLUMNS = ("id", "buyer_id", "ticket_id", "price", "expires_at", "status", "version")
INSERT_ORDER = (
    insert(ORDERS)
    .values(bound(ORDERS, *ORDER_COLUMNS))
    .on_conflict_do_nothing(index_elements=[ORDERS.c.id])
    .returning(ORDERS.c.id)
)


async def add_user(session: AsyncSession, data: UserCreatedData) -> None:
    await session.execute(INSERT_USER, {"id": data.id, "email": data.email})


async def recipient(session: AsyncSession, user_id: UUID) -> Recipient:
    """The user's address and whether they are banned, in one round trip."""
    banned = sa.exists().where(banned_users.c.user_id == User.id)
    found = (await session.execute(sa.select(User.email, banned).where(User.id == user_id))).first()
    if found is None:
        raise EventOutOfOrder(f"user {user_id} is not known yet (user.created)")
    email, is_banned = found
    return Recipient(user_id=user_id, email=email, banned=is_banned)


async def add_ticket(session: AsyncSession, data: TicketCreatedData) -> None:
    ticket = {"id": data.id, "title": data.title, "seller_id": data.user_id}
    await session.execute(INSERT_TICKET, {**ticket, "version": data.version})


async def update_ticket(session: AsyncSession, data: TicketUpdatedData) -> None:
    ticket = await session.get(Ticket, data.id, with_for_update=True)
    if should_apply(ticket.version if ticket else None, data.version):
        assert ticket is not None  # should_apply raised otherwise
        ticket.title, ticket.seller_id, ticket.version = data.title, data.user_id, data.version


async def ticket(session: AsyncSession, ticket_id: UUID) -> Ticket:
    found = await session.get(Ticket, ticket_id)
    if found is None:
        raise EventOutOfOrder(f"ticket {ticket_id} is not known yet (ticket.created)")
    return found


async def add_order(session: AsyncSession, data: OrderCreatedData) -> Order | None:
    """The new order; None when it was already replicated (a duplicate)."""
    order = {
        "id": data.id,
        "buyer_id": data.user_id,
        "ticket_id": data.ticket.id,
        "price": data.ticket.price,
        "expires_at": data.expires_at,
        "status": data.status,
        "version": data.version,
    }
    inserted = await session.scalar(INSERT_ORDER, order)
    return None if inserted is None else await session.get(Order, data.id)


async def next_order_version(session: AsyncSession, data: OrderChangedData) -> Order | None:
    """The order to change, locked; None when this version is already applied."""
    order = await session.get(Order, data.id, with_for_update=True)
    if should_apply(order.version if order else None, data.version):
        return order
    return None


async def add_payment(session: AsyncSession, data: PaymentCreatedData) -> None:
    statement = insert(PAYMENTS).values(
        order_id=data.order_id, id=data.id, stripe_id=data.stripe_id
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=[PAYMENTS.c.order_id]))


async def payment(session: AsyncSession, order_id: UUID) -> Payment | None:
    return await session.get(Payment, order_id)
