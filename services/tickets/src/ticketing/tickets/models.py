"""The tickets table. A ticket carries ``version`` for optimistic concurrency.

The mapper's ``version_id_col`` makes every ORM UPDATE read
``UPDATE tickets ... WHERE id = :id AND version = :expected``; a lost race raises
``StaleDataError`` instead of overwriting. The version is bumped by the domain rules
(``version_id_generator=False``) because it is part of the contract: 0 when listed, +1 on
each change this service makes, and the events carry it.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any, Self
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TITLE_MAX_LENGTH = 200


class Base(DeclarativeBase):
    pass


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        sa.CheckConstraint("price > 0", name="tickets_price_positive"),
        sa.CheckConstraint("version >= 0", name="tickets_version_not_negative"),
        # The listing, newest first (``repository.available``), walked backwards.
        sa.Index(
            "tickets_available", "created_at", "id", postgresql_where=sa.text("order_id IS NULL")
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(TITLE_MAX_LENGTH))
    price: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))
    user_id: Mapped[UUID]
    version: Mapped[int] = mapped_column()
    order_id: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )

    __mapper_args__: dict[str, Any] = {"version_id_col": version, "version_id_generator": False}

    @classmethod
    def listed(cls, *, title: str, price: Decimal, seller: UUID) -> Self:
        """A new ticket for sale: version 0, free."""
        return cls(id=uuid4(), title=title, price=price, user_id=seller, version=0, order_id=None)


class CancelledOrder(Base):
    """Orders known to be cancelled. An ``order.created`` retried after its own
    ``order.cancelled`` must not reserve the ticket again (it would stay reserved forever)."""

    __tablename__ = "cancelled_orders"

    order_id: Mapped[UUID] = mapped_column(primary_key=True)
    ticket_id: Mapped[UUID]
