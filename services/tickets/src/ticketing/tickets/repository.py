"""How tickets are read from the database (writes are plain ORM changes, version-checked)."""

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.common.db import banned_users
from ticketing.common.errors import NotFoundError
from ticketing.common.pagination import Position, newest_first, split_page
from ticketing.tickets.models import Ticket


async def get(session: AsyncSession, ticket_id: UUID, *, lock: bool = False) -> Ticket:
    """The ticket; ``lock`` holds its row until the transaction ends (re-read, never cached),
    so concurrent changes to one ticket take turns."""
    ticket = await session.get(Ticket, ticket_id, with_for_update=lock, populate_existing=lock)
    if ticket is None:
        raise NotFoundError("Ticket not found")
    return ticket


async def available(
    session: AsyncSession, *, limit: int, after: Position | None
) -> tuple[list[Ticket], Position | None]:
    """One page of the tickets for sale, newest listing first, and where the next page starts
    (None on the last): those no order holds and whose seller is not banned. The partial
    index ``tickets_available`` serves the order. A banned seller's tickets leave the listing
    but keep their page (``GET /api/tickets/{id}``), so links to them still answer; orders
    refuses to sell them."""
    seller_banned = sa.exists().where(banned_users.c.user_id == Ticket.user_id)
    query = sa.select(Ticket).where(Ticket.order_id.is_(None), ~seller_banned)
    rows = await session.scalars(
        newest_first(query, Ticket.created_at, Ticket.id, after=after, limit=limit)
    )
    return split_page(rows.all(), limit, lambda t: Position(t.created_at, t.id))
