"""DESIGN §4 "Outages spend no retries" and "Waiting is not failing", with real faults: the
handler's PostgreSQL server is shut down for longer than the whole retry budget lasts."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus
from ticketing.common.consumer import EventConsumer
from ticketing.common.db import create_engine, create_sessionmaker, infrastructure
from ticketing.common.dlq import list_dead_letters
from ticketing.common.events import UserCreated
from ticketing.common.uow import UnitOfWork
from ticketing.common.versions import EventOutOfOrder
from ticketing.testkit.embedded import EmbeddedPostgres
from ticketing.testkit.events import publish_event, user_created
from ticketing.testkit.http import eventually
from ticketing.testkit.loops import consuming

applied = sa.Table(
    "applied",
    sa.MetaData(),
    sa.Column("seq", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Uuid, nullable=False),
)


async def apply(event: UserCreated, uow: UnitOfWork) -> None:
    await uow.session.execute(sa.insert(applied).values(event_id=event.id))


@asynccontextmanager
async def database_on(server: EmbeddedPostgres) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(server.create_database("outage"))
    async with engine.begin() as conn:
        await conn.run_sync(infrastructure.create_all)
        await conn.run_sync(applied.metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


def consumer_of(
    bus: Bus,
    sessionmaker: async_sessionmaker[AsyncSession],
    handler: Callable[..., object],
    out_of_order_timeout: float = 60,
) -> EventConsumer:
    return EventConsumer(
        durable="patient",
        bus=bus,
        subscriptions={UserCreated: handler},  # type: ignore[dict-item]
        unit_of_work=lambda: UnitOfWork(sessionmaker, namespace=bus.names.namespace),
        max_deliver=2,  # the whole failure budget would last well under a second
        backoff_seconds=[0.05],
        ack_wait_seconds=1,  # the outage outlasts many ack deadlines
        out_of_order_timeout_seconds=out_of_order_timeout,
    )


async def applied_ids(sessionmaker: async_sessionmaker[AsyncSession]) -> list[UUID]:
    async with sessionmaker() as session:
        return list(await session.scalars(sa.select(applied.c.event_id).order_by(applied.c.seq)))


async def test_a_database_outage_longer_than_the_retry_budget_dead_letters_nothing(
    bus: Bus, own_postgres: EmbeddedPostgres
) -> None:
    async with database_on(own_postgres) as engine:
        sessionmaker = create_sessionmaker(engine)
        events = [user_created() for _ in range(5)]
        async with consuming(consumer_of(bus, sessionmaker, apply)):
            own_postgres.shut_down()
            for event in events:
                await publish_event(bus, event)
            # The outage itself: longer than the whole failure budget and five ack deadlines.
            await asyncio.sleep(5)
            own_postgres.start_again()

            async def all_applied() -> None:
                # Each once. These are five users' events: handled at once, in any order
                # (one aggregate's keep theirs: test_consumer_concurrency).
                assert sorted(await applied_ids(sessionmaker)) == sorted(e.id for e in events)

            await eventually(all_applied, timeout=60)

    assert await list_dead_letters(bus) == []


async def test_waiting_for_a_missing_version_spends_no_failure_budget(
    bus: Bus, own_postgres: EmbeddedPostgres
) -> None:
    early_deliveries = 0

    async def needs_a_predecessor(event: UserCreated, uow: UnitOfWork) -> None:
        nonlocal early_deliveries
        if early_deliveries < 6:  # three times the failure budget
            early_deliveries += 1
            raise EventOutOfOrder("version 2 cannot follow 0")
        await apply(event, uow)

    async with database_on(own_postgres) as engine:
        sessionmaker = create_sessionmaker(engine)
        event = user_created()
        async with consuming(consumer_of(bus, sessionmaker, needs_a_predecessor)):
            await publish_event(bus, event)

            async def applied_at_last() -> None:
                assert await applied_ids(sessionmaker) == [event.id]

            await eventually(applied_at_last, timeout=60)

    assert early_deliveries == 6
    assert await list_dead_letters(bus) == []


async def test_an_event_whose_predecessor_never_arrives_is_dead_lettered_with_that_reason(
    bus: Bus, own_postgres: EmbeddedPostgres
) -> None:
    async def never_in_order(event: UserCreated, uow: UnitOfWork) -> None:
        raise EventOutOfOrder("version 5 cannot follow 3")

    async with database_on(own_postgres) as engine:
        consumer = consumer_of(bus, create_sessionmaker(engine), never_in_order, 1.0)
        async with consuming(consumer):
            await publish_event(bus, user_created())

            async def dead_lettered() -> None:
                letters = await list_dead_letters(bus)
                assert len(letters) == 1
                (letter,) = letters
                assert "predecessor never arrived" in letter.error
                assert "version 5 cannot follow 3" in letter.error

            await eventually(dead_lettered, timeout=30)
