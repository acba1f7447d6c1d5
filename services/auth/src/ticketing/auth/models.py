"""Auth's tables: users, and the failed sign-ins that throttle guessing.

Emails are stored in two forms (``domain``): as shown, and their key, unique in the database,
so two spellings of one address can never be two accounts, however the requests race.
"""

from datetime import datetime
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    __table_args__ = (sa.Index("users_email_key_unique", "email_key", unique=True),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    email: Mapped[str] = mapped_column(sa.String(320))
    email_key: Mapped[str] = mapped_column(sa.String(320))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    banned_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class SignInAttempt(Base):
    """A sign-in that has not succeeded: in flight, or failed. A success deletes the email's."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        sa.Index("sign_in_attempts_by_email", "email_key", "attempted_at"),
        sa.Index("sign_in_attempts_by_client", "client", "attempted_at"),
        sa.Index("sign_in_attempts_attempted_at", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    email_key: Mapped[str] = mapped_column(sa.String(320))
    client: Mapped[str] = mapped_column(sa.String(64))
    attempted_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
