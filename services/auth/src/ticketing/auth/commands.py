"""Operator commands: ``python -m ticketing.auth ban EMAIL``.

Banning marks the user, records the ban for this service's own session checks, and publishes
``user.banned`` through the outbox (the running service's relay sends it), all in one
transaction. Every other service then refuses the user's still-valid tokens.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from ticketing.auth.config import AuthSettings
from ticketing.auth.models import User
from ticketing.common.contracts import utcnow
from ticketing.common.db import banned_users, create_migration_engine, create_sessionmaker
from ticketing.common.errors import NotFoundError
from ticketing.common.events import UserBanned, UserBannedData
from ticketing.common.uow import UnitOfWork


async def ban_user(settings: AuthSettings, email: str) -> User:
    engine = create_migration_engine(settings.database_url)
    try:
        uow = UnitOfWork(create_sessionmaker(engine), namespace=settings.bus_namespace)
        async with uow:
            user = await uow.session.scalar(
                sa.select(User).where(sa.func.lower(User.email) == email.strip().lower())
            )
            if user is None:
                raise NotFoundError(f"No user with email {email}")
            if user.banned_at is None:
                user.banned_at = utcnow()
                stmt = insert(banned_users).values(user_id=user.id).on_conflict_do_nothing()
                await uow.session.execute(stmt)
                uow.publish(UserBanned(data=UserBannedData(user_id=user.id)))
            await uow.commit()
            return user
    finally:
        await engine.dispose()
