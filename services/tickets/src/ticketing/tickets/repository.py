"""How tickets are read from the database, and a new one written (edits are plain ORM changes,
version-checked)."""

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ticketing.common import pagination
from ticketing.common.contracts import TicketBody
from ticketing.common.db import banned_users, bound, table_of
from ticketing.common.errors import NotFoundError
from ticketing.common.pagination import Position
from ticketing.common.uow import UnitOfWork
from ticketing.tickets.models import Ticket

NEW_TICKET_COLUMNS = ("id", "title", "price", "user_id", "version", "order_id")
TICKETS = table_of(Ticket)  # the write goes to the table (``common.db.table_of`` says why)
INSERT_TICKET = sa.insert(TICKETS).values(bound(TICKETS, *NEW_TICKET_COLUMNS))


def add(uow: UnitOfWork, ticket: Ticket) -> None:
    """Insert a new ticket at the commit, with one statement built once (``common.db.bound``),
    which its ``ticket.created`` outbox row joins (``UnitOfWork.stage``): one round trip.
    The ORM's flush of a single added object cost a fifth of the process's CPU while tickets
    were being listed; nothing of the row is read back (``created_at`` is not in the body)."""
    values = {name: getattr(ticket, name) for name in NEW_TICKET_COLUMNS}
    uow.stage(INSERT_TICKET, params=values)


async def get(session: AsyncSession, ticket_id: UUID, *, lock: bool = False) -> Ticket:
    """The ticket; ``lock`` holds its row until the transaction ends (re-read, never cached),
    so concurrent changes to one ticket take turns."""
    ticket = await session.get(Ticket, ticket_id, with_for_update=lock, populate_existing=lock)
    if ticket is None:
        raise NotFoundError("Ticket not found")
    return ticket


async def available(
    connection: AsyncConnection, *, limit: int, after: Position | None
) -> pagination.Page:
    """One page of the tickets for sale, newest listing first, as JSON bodies: those no order
    holds and whose seller is not banned. The partial index ``tickets_available`` serves the
    order. A banned seller's tickets leave the listing but keep their page (``GET
    /api/tickets/{id}``), so links to them still answer; orders refuses to sell them."""
    return await LISTING.read(connection, after=after, limit=limit)


def _listing() -> pagination.NewestFirst:
    tickets = Ticket.__table__.c
    shown = [tickets[name] for name in TicketBody.model_fields]  # the body, and its position
    seller_banned = sa.exists().where(banned_users.c.user_id == tickets.user_id)
    query = sa.select(*shown, tickets.created_at).where(tickets.order_id.is_(None), ~seller_banned)
    return pagination.NewestFirst.of(query, tickets.created_at, tickets.id, shows=TicketBody)


LISTING = _listing()
