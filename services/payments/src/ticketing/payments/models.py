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


class RefundOwed(Base):
    """A charge we must give back, recorded before we try: if Stripe or this process fails
    mid-way, the refund loop finishes it (the refund's idempotency key makes retries safe)."""

    __tablename__ = "refunds_owed"

    intent_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    order_id: Mapped[UUID]
    reason: Mapped[str] = mapped_column(sa.String(100))
    requested_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    refunded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
