"""Lock waits as a test sees them: read from PostgreSQL (``pg_stat_activity``), never timed,
so a test can hold a transaction open and await the moment another one queues behind it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


async def someone_waits_for_an_advisory_lock(
    sessions: async_sessionmaker[AsyncSession], what: str = "a session"
) -> None:
    """Pass when a session of this database waits for an advisory lock, else raise the
    ``AssertionError`` that ``eventually`` retries on (``what`` names the waiter)."""
    async with sessions() as session:
        waiting = await session.scalar(
            sa.select(sa.func.count())
            .select_from(sa.text("pg_stat_activity"))
            .where(
                sa.text("datname = current_database()"),
                sa.text("wait_event_type = 'Lock'"),
                sa.text("wait_event = 'advisory'"),
            )
        )
    assert waiting, f"{what} is not waiting for an advisory lock yet"
