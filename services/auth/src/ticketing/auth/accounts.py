"""What happens to accounts and sessions, for the routes and the operator command alike.

Ending a session and banning a user each do three things in one transaction: mark it here,
record it in auth's own refusal tables (so auth's next request already refuses the token)
and publish the event every other service records (``ticketing.common.revocation``).
"""

from __future__ import annotations

import sqlalchemy as sa

from ticketing.auth.domain import email_key
from ticketing.auth.models import User
from ticketing.common.auth import UserSession
from ticketing.common.contracts import utcnow
from ticketing.common.errors import NotFoundError
from ticketing.common.events import SessionRevoked, SessionRevokedData, UserBanned, UserBannedData
from ticketing.common.revocation import remember_ban, remember_revocation
from ticketing.common.uow import UnitOfWork


async def find_by_email(uow: UnitOfWork, email: str) -> User | None:
    return await uow.session.scalar(sa.select(User).where(User.email_key == email_key(email)))


async def ban(uow: UnitOfWork, user: User) -> None:
    """Ban the user everywhere. Banning again changes nothing and publishes nothing."""
    if user.banned_at is not None:
        return
    user.banned_at = utcnow()
    await remember_ban(uow.session, user.id)
    uow.publish(UserBanned(data=UserBannedData(user_id=user.id)))


async def ban_by_email(uow: UnitOfWork, email: str) -> User:
    user = await find_by_email(uow, email)
    if user is None:
        raise NotFoundError(f"No user with email {email}")
    await ban(uow, user)
    return user


async def end_session(uow: UnitOfWork, session: UserSession) -> None:
    """Sign-out: the token is refused everywhere from now until it expires."""
    revoked = SessionRevokedData(
        session_id=session.id, user_id=session.user.id, expires_at=session.expires_at
    )
    await remember_revocation(uow.session, revoked)
    uow.publish(SessionRevoked(data=revoked))
