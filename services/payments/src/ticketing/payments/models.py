"""Payments' tables: the replicated orders it may charge for, the attempts to charge them,
the payments it made and the refunds it owes.

``orders`` is a replica: only the orders service changes an order's version, this table just
follows it. One attempt row per order (``order_id`` is its key) claims the right to call Stripe,
so at most one charge per order is in flight whatever the cards. One payment per order
(``order_id`` unique) and per Stripe PaymentIntent (``stripe_id`` unique): the database refuses a
second one whatever the code does.
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
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class PaymentAttempt(Base):
    """The order's current attempt to charge: claimed (``charging``) before Stripe is called,
    then ``requires_action`` (3-D Secure pending), ``failed`` (free to try again) or
    ``succeeded``. ``number`` makes each attempt's Stripe idempotency key."""

    __tablename__ = "payment_attempts"

    order_id: Mapped[UUID] = mapped_column(sa.ForeignKey("orders.id"), primary_key=True)
    number: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(20))
    intent_id: Mapped[str | None] = mapped_column(sa.String(255))
    next_action_url: Mapped[str | None] = mapped_column(sa.Text)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    claimed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


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
    __table_args__ = (
        # What the refund loop picks up (migration 0003).
        sa.Index(
            "refunds_owed_pending",
            "requested_at",
            postgresql_where=sa.text("refunded_at IS NULL AND parked_at IS NULL"),
        ),
    )

    intent_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    order_id: Mapped[UUID]
    reason: Mapped[str] = mapped_column(sa.String(100))
    requested_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    refunded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    parked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
