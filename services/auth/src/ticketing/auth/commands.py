"""Operator commands: ``python -m ticketing.auth ban EMAIL``.

The same ban as ``POST /api/users/{id}/ban`` (``accounts.ban``), for an operator with a shell
and no admin account: the event goes through the outbox, which the running service's relay
sends.
"""

from __future__ import annotations

from ticketing.auth import accounts
from ticketing.auth.config import AuthSettings
from ticketing.auth.models import User
from ticketing.common.db import create_migration_engine, create_sessionmaker
from ticketing.common.uow import UnitOfWork


async def ban_user(settings: AuthSettings, email: str) -> User:
    engine = create_migration_engine(settings.database_url)
    try:
        uow = UnitOfWork(create_sessionmaker(engine), namespace=settings.bus_namespace)
        async with uow:
            user = await accounts.ban_by_email(uow, email)
            await uow.commit()
            return user
    finally:
        await engine.dispose()
