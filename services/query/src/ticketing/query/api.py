"""Query routes: the pages' reads, straight from the read model (no writes here)."""

import json
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response

from ticketing.common import pagination
from ticketing.common.auth import RequiredUser
from ticketing.common.db import banned_users
from ticketing.common.errors import NotFoundError
from ticketing.common.service import ReaderDep, UnitOfWorkDep
from ticketing.query.domain import LISTING_STATUSES, ListingStatus
from ticketing.query.models import Listing, Order, Payment
from ticketing.query.schemas import (
    ListingOut,
    ListingPage,
    OrderOut,
    OrderTicketOut,
    PaymentOut,
)

router = APIRouter(prefix="/api/query", tags=["query"])


@router.get("/tickets", response_model=ListingPage, responses=pagination.NEXT_PAGE_DOC)
async def list_tickets(
    request: Request,
    reader: ReaderDep,
    status: ListingStatus | None = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
) -> Response:
    """Listings, newest first, optionally only those in one status, a page at a time: the
    body's ``next`` (also ``Link: <…>; rel="next"``) is the cursor of the page after, null on
    the last. No count: a page costs the same however deep it is. A banned seller's listings
    are left out, as tickets' ``GET /api/tickets`` leaves them out; each keeps its page
    (``/api/query/tickets/{id}``), so links to it still answer."""
    # The items come written by the database (``pagination.NewestFirst``) as ``ListingOut``
    # serialises them; shown as stored, the events were validated before they were applied.
    after = pagination.cursor_position(cursor)
    page = await LISTINGS[status].read(reader, after=after, limit=limit)
    headers, next_cursor = {}, None
    if page.more is not None:
        headers["Link"] = pagination.next_link(request, page.more, limit)
        next_cursor = pagination.encode_cursor(page.more)
    body = f'{{"items":{page.json_array()},"limit":{limit},"next":{json.dumps(next_cursor)}}}'
    return Response(body, media_type="application/json", headers=headers)


def _listings(status: ListingStatus | None) -> pagination.NewestFirst:
    """The statements of one listing (every status, or one), built once."""
    listings = Listing.__table__.c
    shown = [listings[name] for name in ListingOut.model_fields]
    seller_banned = sa.exists().where(banned_users.c.user_id == listings.user_id)
    query = sa.select(*shown, listings.created_at).where(~seller_banned)
    if status is not None:
        query = query.where(listings.status == status)
    return pagination.NewestFirst.of(query, listings.created_at, listings.id, shows=ListingOut)


LISTINGS = {status: _listings(status) for status in (None, *LISTING_STATUSES)}


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
