"""Payments' tables: the replicated orders it may charge for, and the payments it made.

``orders`` is a replica: only the orders service changes an order's version, this table just
follows it. One payment per order (``order_id`` unique) and per Stripe PaymentIntent
(``stripe_id`` unique): the database refuses a second one whatever the code does.
"""

from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    user_id: Mapped[UUID]
    status: Mapped[str] = mapped_column(sa.String(20))
    price: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))
    version: Mapped[int]


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    order_id: Mapped[UUID] = mapped_column(sa.ForeignKey("orders.id"), unique=True)
    stripe_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    # Set when orders cancelled the order after all (it expired while the charge was being
    # recorded); the refund loop gives the money back and sets refunded_at.
    refund_requested_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    refunded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
