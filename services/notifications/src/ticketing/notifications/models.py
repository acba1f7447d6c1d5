"""Notifications' tables: the copies its emails need, and the sent-mail log.

``users``, ``tickets``, ``orders`` and ``payments`` are replicas fed by events (only their owners
change versions). ``sent_mail`` is the log of every email: one row per (event, recipient), unique,
written in the same transaction as the event's idempotency record; its ``status`` is where the
exactly-once rule lives (see ``delivery``).
"""

from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.Text)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.Text)
    seller_id: Mapped[UUID]
    version: Mapped[int]


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    buyer_id: Mapped[UUID]
    ticket_id: Mapped[UUID]
    price: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    status: Mapped[str] = mapped_column(sa.String(20))
    version: Mapped[int]


class Payment(Base):
    __tablename__ = "payments"

    order_id: Mapped[UUID] = mapped_column(primary_key=True)
    id: Mapped[UUID]
    stripe_id: Mapped[str] = mapped_column(sa.String(255))


# sent_mail.status: queued, then sending (committed just before SMTP DATA), then one of
# sent (250), rejected (5xx for the address or the message), unknown (a send that never
# confirmed: possibly delivered, never resent), suppressed (the recipient was banned meanwhile).
PENDING, SENDING, SENT, REJECTED, UNKNOWN, SUPPRESSED = (
    "pending",
    "sending",
    "sent",
    "rejected",
    "unknown",
    "suppressed",
)


class SentMail(Base):
    __tablename__ = "sent_mail"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "recipient", name="sent_mail_one_per_event_recipient"),
        sa.Index(
            "sent_mail_due", "next_attempt_at", postgresql_where=sa.text("status = 'pending'")
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    event_id: Mapped[UUID]
    recipient: Mapped[str] = mapped_column(sa.Text)
    user_id: Mapped[UUID]
    template: Mapped[str] = mapped_column(sa.String(50))
    message_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    subject: Mapped[str] = mapped_column(sa.Text)
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    next_attempt_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    attempted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
