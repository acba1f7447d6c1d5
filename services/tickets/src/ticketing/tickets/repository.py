"""How tickets are read from the database (writes are plain ORM changes, version-checked)."""

from collections.abc import Sequence
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.common.errors import NotFoundError
from ticketing.tickets.models import Ticket


async def get(session: AsyncSession, ticket_id: UUID) -> Ticket:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFoundError("Ticket not found")
    return ticket


async def available(session: AsyncSession) -> Sequence[Ticket]:
    """Tickets for sale: those no order holds, oldest listing first."""
    rows = await session.scalars(
        sa.select(Ticket).where(Ticket.order_id.is_(None)).order_by(Ticket.created_at, Ticket.id)
    )
    return rows.all()
