from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus
from ticketing.common.consumer import EventConsumer, Handler
from ticketing.common.db import create_engine, create_sessionmaker, infrastructure
from ticketing.common.events import UserCreated
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


class UserCreatedConsumer(Protocol):
    def __call__(
        self,
        durable: str,
        handler: Handler,
        *,
        unit_of_work: Callable[[], UnitOfWork] | None = None,
        max_deliver: int = 8,
    ) -> EventConsumer: ...


@pytest.fixture
def user_created_consumer(bus: Bus, unit_of_work: Callable[[], UnitOfWork]) -> UserCreatedConsumer:
    """A consumer named ``durable`` handing each UserCreated to ``handler``, in this test's
    database unless it is given another service's ``unit_of_work``. A failed delivery is
    retried 50 ms later, so a test of giving up (``max_deliver`` deliveries, then the dead
    letter) waits well under a second."""
    this_tests_database = unit_of_work

    def consumer(
        durable: str,
        handler: Handler,
        *,
        unit_of_work: Callable[[], UnitOfWork] | None = None,
        max_deliver: int = 8,
    ) -> EventConsumer:
        return EventConsumer(
            durable=durable,
            bus=bus,
            subscriptions={UserCreated: handler},
            unit_of_work=unit_of_work or this_tests_database,
            max_deliver=max_deliver,
            backoff_seconds=[0.05],
        )

    return consumer
