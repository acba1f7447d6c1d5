"""Which still-unexpired tokens every service refuses: banned users and revoked sessions.

Auth publishes ``user.banned`` (a ban) and ``session.revoked`` (a sign-out) and records both in
its own database at once. Every other service with a database records them from its consumer
(``SESSION_SUBSCRIPTIONS``, which ``create_service_app`` adds to the service's own). Requests
are answered from memory (``refusals.py``); ``is_refused`` checks a token against both tables
in one query, when memory cannot answer.

A revoked session is remembered only until its token's ``exp``: past it the signature check
alone refuses the token, so each new revocation prunes the rows that have expired.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.common.auth import UserSession
from ticketing.common.consumer import Handler, Subscriptions
from ticketing.common.contracts import utcnow
from ticketing.common.db import banned_users, revoked_sessions
from ticketing.common.events import Event, SessionRevoked, SessionRevokedData, UserBanned
from ticketing.common.refusals import SessionRefusals
from ticketing.common.uow import UnitOfWork


async def remember_ban(session: AsyncSession, user_id: UUID) -> None:
    """Refuse every token of the user from now on (idempotent)."""
    stmt = insert(banned_users).values(user_id=user_id).on_conflict_do_nothing()
    await session.execute(stmt)


async def remember_revocation(session: AsyncSession, revoked: SessionRevokedData) -> None:
    """Refuse the session's token until it expires (idempotent); forget expired sessions."""
    now = utcnow()
    await session.execute(sa.delete(revoked_sessions).where(revoked_sessions.c.expires_at <= now))
    if revoked.expires_at <= now:
        return  # expired already: nothing left to refuse
    stmt = insert(revoked_sessions).values(
        session_id=revoked.session_id, user_id=revoked.user_id, expires_at=revoked.expires_at
    )
    await session.execute(stmt.on_conflict_do_nothing())


async def is_refused(session: AsyncSession, user_session: UserSession) -> bool:
    """True when the user is banned or the session revoked: one round trip per request."""
    banned = sa.exists().where(banned_users.c.user_id == user_session.user.id)
    revoked = sa.exists().where(revoked_sessions.c.session_id == user_session.id)
    return bool(await session.scalar(sa.select(sa.or_(banned, revoked))))


async def record_ban(event: UserBanned, uow: UnitOfWork) -> None:
    await remember_ban(uow.session, event.data.user_id)


async def record_revocation(event: SessionRevoked, uow: UnitOfWork) -> None:
    await remember_revocation(uow.session, event.data)


SESSION_SUBSCRIPTIONS: Subscriptions = {
    UserBanned: record_ban,
    SessionRevoked: record_revocation,
}


def remembering(refusals: SessionRefusals) -> Subscriptions:
    """``SESSION_SUBSCRIPTIONS`` that also tell this process's memory (``refusals.py``) at
    once: a request right after the durable recorded an event here is refused from memory."""

    async def record_and_learn_ban(event: UserBanned, uow: UnitOfWork) -> None:
        await record_ban(event, uow)
        refusals.learn(event)

    async def record_and_learn_revocation(event: SessionRevoked, uow: UnitOfWork) -> None:
        await record_revocation(event, uow)
        refusals.learn(event)

    return {UserBanned: record_and_learn_ban, SessionRevoked: record_and_learn_revocation}


def with_session_subscriptions(
    own: Subscriptions, refusals: SessionRefusals | None = None
) -> Subscriptions:
    """The service's subscriptions plus ``SESSION_SUBSCRIPTIONS`` (``remembering(refusals)``
    when given). Where the service handles one of these events itself (query's read model
    shows bans), both handlers run in the one unit of work, the service's own first (it may
    take a lock the recording should be under)."""
    combined: dict[type[Event], Handler] = dict(own)
    recorders = SESSION_SUBSCRIPTIONS if refusals is None else remembering(refusals)
    for event_type, record in recorders.items():
        handler = own.get(event_type)
        combined[event_type] = record if handler is None else _in_turn(handler, record)
    return combined


def _in_turn(first: Handler, then: Handler) -> Handler:
    async def handle(event: Any, uow: Any) -> None:
        await first(event, uow)
        await then(event, uow)

    handle.__name__ = f"{getattr(first, '__name__', 'handler')}+{getattr(then, '__name__', '')}"
    return handle
