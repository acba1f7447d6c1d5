"""What every service remembers so it can refuse unexpired tokens: bans and revoked sessions
(``common.revocation``), and how those handlers join a service's own."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.auth import CurrentUser, UserSession
from ticketing.common.db import revoked_sessions
from ticketing.common.events import (
    SessionRevoked,
    SessionRevokedData,
    UserBanned,
    UserBannedData,
    UserCreated,
)
from ticketing.common.revocation import (
    SESSION_SUBSCRIPTIONS,
    is_refused,
    record_revocation,
    with_session_subscriptions,
)
from ticketing.common.uow import UnitOfWork


def a_session(expires_in: timedelta = timedelta(hours=1)) -> UserSession:
    user = CurrentUser(id=uuid4(), email="a@example.com")
    return UserSession(user=user, id=uuid4(), expires_at=datetime.now(UTC) + expires_in)


def revocation_of(session: UserSession) -> SessionRevoked:
    return SessionRevoked(
        data=SessionRevokedData(
            session_id=session.id, user_id=session.user.id, expires_at=session.expires_at
        )
    )


async def handle(unit_of_work: Callable[[], UnitOfWork], event: Any) -> None:
    async with unit_of_work() as uow:
        await SESSION_SUBSCRIPTIONS[type(event)](event, uow)
        await uow.commit()


async def refused(sessionmaker: async_sessionmaker[AsyncSession], session: UserSession) -> bool:
    async with sessionmaker() as db:
        return await is_refused(db, session)


async def test_a_revoked_session_is_refused_and_the_users_other_sessions_are_not(
    unit_of_work: Callable[[], UnitOfWork], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    revoked = a_session()
    other = UserSession(user=revoked.user, id=uuid4(), expires_at=revoked.expires_at)

    await handle(unit_of_work, revocation_of(revoked))
    await handle(unit_of_work, revocation_of(revoked))  # a redelivery changes nothing

    assert await refused(sessionmaker, revoked)
    assert not await refused(sessionmaker, other)


async def test_a_banned_users_every_session_is_refused(
    unit_of_work: Callable[[], UnitOfWork], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    session = a_session()

    await handle(unit_of_work, UserBanned(data=UserBannedData(user_id=session.user.id)))

    assert await refused(sessionmaker, session)
    assert not await refused(sessionmaker, a_session())


async def test_revocations_are_forgotten_once_their_token_has_expired(
    unit_of_work: Callable[[], UnitOfWork], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    soon, later = a_session(timedelta(seconds=1)), a_session()
    await handle(unit_of_work, revocation_of(soon))
    await handle(unit_of_work, revocation_of(a_session(timedelta(seconds=-5))))  # not stored

    async with sessionmaker() as db:
        await db.execute(  # time passes: the first token expires
            sa.update(revoked_sessions)
            .where(revoked_sessions.c.session_id == soon.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await db.commit()
    await handle(unit_of_work, revocation_of(later))

    async with sessionmaker() as db:
        kept = (await db.scalars(sa.select(revoked_sessions.c.session_id))).all()
    assert kept == [later.id]


async def test_a_services_own_handler_runs_first_then_the_recording(
    unit_of_work: Callable[[], UnitOfWork], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    seen: list[str] = []

    async def own_ban_handler(event: UserBanned, uow: UnitOfWork) -> None:
        seen.append("own")
        recorded = await is_refused(uow.session, session_of(event.data.user_id))
        seen.append("recorded already" if recorded else "not yet")

    async def on_user_created(event: UserCreated, uow: UnitOfWork) -> None:
        seen.append("created")

    combined = with_session_subscriptions(
        {UserBanned: own_ban_handler, UserCreated: on_user_created}
    )
    ban = UserBanned(data=UserBannedData(user_id=uuid4()))
    async with unit_of_work() as uow:
        await combined[UserBanned](ban, uow)
        await uow.commit()

    assert set(combined) == {UserBanned, UserCreated, SessionRevoked}
    assert combined[UserCreated] is on_user_created
    assert combined[SessionRevoked] is record_revocation
    assert seen == ["own", "not yet"]
    assert await refused(sessionmaker, session_of(ban.data.user_id))


def session_of(user_id: UUID) -> UserSession:
    user = CurrentUser(id=user_id, email="a@example.com")
    return UserSession(user=user, id=uuid4(), expires_at=datetime.now(UTC) + timedelta(hours=1))


def test_a_service_without_subscriptions_gets_both_session_handlers() -> None:
    assert with_session_subscriptions({}) == SESSION_SUBSCRIPTIONS
