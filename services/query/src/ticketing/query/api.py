"""Query routes: the pages' reads, straight from the read model (no writes here)."""

from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Query

from ticketing.common.auth import RequiredUser
from ticketing.common.db import banned_users
from ticketing.common.errors import NotFoundError
from ticketing.common.service import UnitOfWorkDep
from ticketing.query.domain import ListingStatus
from ticketing.query.models import Listing, Order, Payment
from ticketing.query.schemas import (
    ListingOut,
    ListingPage,
    OrderOut,
    OrderTicketOut,
    PaymentOut,
)

router = APIRouter(prefix="/api/query", tags=["query"])

MAX_OFFSET = 2**31 - 1
"""Far past any real listing, and inside every integer type the database and driver take
(an unbounded offset reached PostgreSQL as a bigint overflow: a 500)."""

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


@router.get("/tickets", response_model=ListingPage)
async def list_tickets(
    uow: UnitOfWorkDep,
    status: ListingStatus | None = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> ListingPage:
    """Listings, newest first, optionally only those in one status. A banned seller's
    listings are left out, as tickets' ``GET /api/tickets`` leaves them out; each keeps its
    page (``/api/query/tickets/{id}``), so links to it still answer."""
    where = [~sa.exists().where(banned_users.c.user_id == Listing.user_id)]
    if status is not None:
        where.append(Listing.status == status)
    total = await uow.session.scalar(sa.select(sa.func.count()).select_from(Listing).where(*where))
    listings = await uow.session.scalars(
        sa.select(Listing)
        .where(*where)
        .order_by(Listing.created_at.desc(), Listing.id)
        .limit(limit)
        .offset(offset)
    )
    items = [ListingOut.model_validate(listing) for listing in listings]
    return ListingPage(items=items, total=total or 0, limit=limit, offset=offset)


@router.get("/tickets/{ticket_id}", response_model=ListingOut)
async def show_ticket(ticket_id: UUID, uow: UnitOfWorkDep) -> ListingOut:
    listing = await uow.session.get(Listing, ticket_id)
    if listing is None:
        raise NotFoundError()
    return ListingOut.model_validate(listing)


@router.get("/orders", response_model=list[OrderOut])
async def list_my_orders(user: RequiredUser, uow: UnitOfWorkDep) -> list[OrderOut]:
    """The caller's orders, newest first, each with its ticket and payment."""
    rows = await uow.session.execute(
        sa.select(Order, Listing.title, Payment)
        .outerjoin(Listing, Listing.id == Order.ticket_id)
        .outerjoin(Payment, Payment.order_id == Order.id)
        .where(Order.user_id == user.id)
        .order_by(Order.created_at.desc(), Order.id)
    )
    return [_order_out(order, title, payment) for order, title, payment in rows]


def _order_out(order: Order, title: str | None, payment: Payment | None) -> OrderOut:
    return OrderOut.model_validate(
        {
            "id": order.id,
            "user_id": order.user_id,
            "status": order.status,
            "expires_at": order.expires_at,
            "version": order.version,
            "ticket": OrderTicketOut(id=order.ticket_id, title=title, price=order.ticket_price),
            "payment": PaymentOut.model_validate(payment) if payment else None,
        }
    )
