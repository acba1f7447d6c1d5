"""A service's pool closes the connections it no longer needs (``db.ShrinkingPool``), and keeps
those steady load uses: seen from PostgreSQL (its backends for the database) and from the
pool's own connects, never from the pool's internals."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ticketing.common.db import create_engine
from ticketing.testkit.fixtures import Infrastructure

pytestmark = pytest.mark.integration

Backends = Callable[[], Awaitable[int]]


@pytest.fixture
async def database_url(new_database: Callable[[str], Awaitable[str]]) -> str:
    return await new_database("pool")


@pytest.fixture
async def backends(infrastructure: Infrastructure, database_url: str) -> AsyncIterator[Backends]:
    """How many PostgreSQL backends serve the test's database (its pool's open connections)."""
    name = sa.make_url(database_url).database
    admin_url = infrastructure.database_admin_url.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(admin_url)

    async def count() -> int:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
        return int(await admin.fetchval(query, name))

    yield count
    await admin.close()


def counting_connects(engine: AsyncEngine) -> list[object]:
    connects: list[object] = []
    sa.event.listen(engine.sync_engine.pool, "connect", lambda conn, record: connects.append(conn))
    return connects


async def use_at_once(engine: AsyncEngine, connections: int) -> None:
    """``connections`` connections in use together, each for the same short query."""

    async def one() -> None:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT pg_sleep(0.05)"))

    await asyncio.gather(*(one() for _ in range(connections)))


async def test_a_pool_closes_the_connections_a_burst_left_open(
    database_url: str, backends: Backends
) -> None:
    engine = create_engine(database_url, shrink_after=0.2)
    try:
        await use_at_once(engine, 4)
        assert await backends() == 4

        deadline = time.monotonic() + 10
        while await backends() > 1 and time.monotonic() < deadline:
            async with engine.connect() as conn:  # light traffic, one at a time
                await conn.execute(sa.text("SELECT 1"))
            await asyncio.sleep(0.05)

        assert await backends() == 1
    finally:
        await engine.dispose()


async def test_steady_load_keeps_the_connections_it_uses(database_url: str) -> None:
    engine = create_engine(database_url, shrink_after=1.0)
    connects = counting_connects(engine)
    try:
        until = time.monotonic() + 3  # three periods of the pool's memory
        while time.monotonic() < until:
            await use_at_once(engine, 3)

        assert len(connects) == 3
    finally:
        await engine.dispose()


async def test_a_shrunk_pool_opens_connections_again_when_load_returns(
    database_url: str, backends: Backends
) -> None:
    engine = create_engine(database_url, shrink_after=0.2)
    try:
        await use_at_once(engine, 3)
        deadline = time.monotonic() + 10
        while await backends() > 1 and time.monotonic() < deadline:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            await asyncio.sleep(0.05)

        await use_at_once(engine, 3)

        assert await backends() == 3
    finally:
        await engine.dispose()
