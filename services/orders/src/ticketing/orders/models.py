"""The orders table and the replicated tickets table.

"One live order per ticket" is the database's job: a partial unique index on
``orders(ticket_id)`` over every order that is not cancelled. Orders carry ``version`` as the
optimistic-concurrency column (0 at creation, +1 on each change, ``UPDATE … WHERE version =``).
"""

from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ticketing.common.contracts import OrderStatus

ONE_LIVE_ORDER_PER_TICKET = "orders_one_live_order_per_ticket"
LIVE_ORDER = "status <> 'cancelled'"
"""The predicate of that index (an insert's ON CONFLICT names it to infer the index)."""


class Base(DeclarativeBase):
    pass


class Ticket(Base):
    """A copy of a tickets-service ticket; only ticket events change it, never this service.

    ``user_id`` is the seller; None only for rows replicated before sellers were kept (filled
    in by the ticket's next event)."""

    __tablename__ = "tickets"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.Text)
    price: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))
    user_id: Mapped[UUID | None]
    version: Mapped[int]


def _next_version(current: int | None) -> int:
    return 0 if current is None else current + 1


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        sa.Index(
            ONE_LIVE_ORDER_PER_TICKET,
            "ticket_id",
            unique=True,
            postgresql_where=sa.text(LIVE_ORDER),
        ),
        sa.Index("orders_user_id", "user_id"),
        sa.Index(
            "orders_created_expiry", "expires_at", postgresql_where=sa.text("status = 'created'")
        ),
        sa.CheckConstraint(
            "status IN ('created', 'cancelled', 'awaiting:payment', 'complete')",
            name="orders_status_known",
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    user_id: Mapped[UUID]
    ticket_id: Mapped[UUID] = mapped_column(sa.ForeignKey("tickets.id"))
    status: Mapped[OrderStatus] = mapped_column(sa.String(32))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    version: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )

    # Every order is shown with its ticket: always loaded with it (an inner join).
    ticket: Mapped[Ticket] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": _next_version}
