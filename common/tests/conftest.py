from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus
from ticketing.common.db import create_engine, create_sessionmaker, infrastructure
from ticketing.common.outbox import OutboxRelay
from ticketing.common.uow import UnitOfWork


@pytest.fixture
async def engine(new_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(await new_database("common"))
    async with engine.begin() as conn:
        await conn.run_sync(infrastructure.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def relay(sessionmaker: async_sessionmaker[AsyncSession], bus: Bus) -> OutboxRelay:
    return OutboxRelay(sessionmaker, bus, poll_seconds=0.1)


@pytest.fixture
def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession], bus_namespace: str, relay: OutboxRelay
) -> Callable[[], UnitOfWork]:
    return lambda: UnitOfWork(sessionmaker, namespace=bus_namespace, on_commit=relay.notify)
