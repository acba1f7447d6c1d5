"""The common tests' fixtures: a database with the infrastructure tables every service has,
the outbox relay and units of work on the test's bus, consumers of UserCreated, and a table
that a test's handler writes to."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus
from ticketing.common.consumer import EventConsumer, Handler
from ticketing.common.db import create_engine, create_sessionmaker, infrastructure
from ticketing.common.events import Event, UserCreated
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


APPLICATIONS = sa.Table(
    "applications",
    sa.MetaData(),
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Uuid, nullable=False),
)


@dataclass
class Applications:
    """What a test's handler changes: a row per event it applied, so a test can tell how often
    a handler really applied an event (a redelivery, a replay or a republish must add none)."""

    sessionmaker: async_sessionmaker[AsyncSession]

    async def record(self, event: Event, uow: UnitOfWork) -> None:
        """A handler: apply ``event``, in the consumer's transaction."""
        await uow.session.execute(sa.insert(APPLICATIONS).values(event_id=event.id))

    async def event_ids(self) -> list[UUID]:
        """The events applied, in the order they were."""
        async with self.sessionmaker() as session:
            query = sa.select(APPLICATIONS.c.event_id).order_by(APPLICATIONS.c.id)
            return list(await session.scalars(query))

    async def count(self) -> int:
        return len(await self.event_ids())


@pytest.fixture
async def applications(sessionmaker: async_sessionmaker[AsyncSession]) -> Applications:
    async with sessionmaker() as session, session.begin():
        await session.run_sync(lambda s: APPLICATIONS.metadata.create_all(s.connection()))
    return Applications(sessionmaker)
