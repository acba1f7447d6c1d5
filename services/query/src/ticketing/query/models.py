"""The read model's tables, one per aggregate the pages show, plus the derived listing state.

Each table holds the facts of one aggregate only (tickets -> ``listings``, orders -> ``orders``,
payments -> ``payments``, users -> ``users``), so no row is ever half-built when events of
different aggregates arrive out of order. The listing's ``status`` and ``updated_at`` are
derived (see ``domain.listing_status``) and recomputed whenever one of their inputs changes.
All timestamps are event times (``occurredAt``), so a rebuild reproduces the rows exactly.
"""

from datetime import datetime
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ticketing.common.contracts import OrderStatus
from ticketing.query.domain import ListingStatus

Timestamp = sa.DateTime(timezone=True)
Money = sa.Numeric(10, 2)


class Base(DeclarativeBase):
    pass


class Listing(Base):
    """A ticket as the pages list it: the ticket's last version plus its derived status."""

    __tablename__ = "listings"
    __table_args__ = (  # the listing page, newest first, with or without a status
        sa.Index("listings_created", "created_at", "id"),
        sa.Index("listings_status_created", "status", "created_at", "id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.Text)
    price: Mapped[Decimal] = mapped_column(Money)
    user_id: Mapped[UUID]
    version: Mapped[int]
    order_id: Mapped[UUID | None]
    status: Mapped[ListingStatus] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    ticket_changed_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        sa.Index("orders_user_created", "user_id", "created_at"),
        sa.Index("orders_ticket", "ticket_id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    user_id: Mapped[UUID]
    status: Mapped[OrderStatus] = mapped_column(sa.String(20))
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    version: Mapped[int]
    ticket_id: Mapped[UUID]
    ticket_price: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    changed_at: Mapped[datetime] = mapped_column(Timestamp)


class Payment(Base):
    """A successful charge; at most one per order is shown (the first one recorded)."""

    __tablename__ = "payments"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    order_id: Mapped[UUID] = mapped_column(unique=True)
    stripe_id: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class User(Base):
    __tablename__ = "users"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320))
