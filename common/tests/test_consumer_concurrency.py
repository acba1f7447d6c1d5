"""A consumer handles different aggregates' events at once and each aggregate's in order
(``consumer.py``): with two replicas of a service taking turns on one durable, while one
aggregate's event is held up for longer than several ack deadlines, and while an outage holds
one (then nothing else starts)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus
from ticketing.common.consumer import EventConsumer, Handler
from ticketing.common.db import create_engine, create_sessionmaker
from ticketing.common.dlq import list_dead_letters
from ticketing.common.events import TicketUpdated
from ticketing.common.failures import TransientError
from ticketing.common.uow import UnitOfWork
from ticketing.common.versions import should_apply
from ticketing.testkit.events import publish_event, ticket_updated
from ticketing.testkit.http import eventually
from ticketing.testkit.loops import consuming

DURABLE = "lanes"
metadata = sa.MetaData()
replica_versions = sa.Table(  # a service's replica of each ticket: the version it is at
    "replica_versions",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)
applied = sa.Table(  # every version applied, in the order it was, and by which replica
    "applied_versions",
    metadata,
    sa.Column("seq", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("ticket_id", sa.Uuid, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("replica", sa.String, nullable=False),
)


@pytest.fixture(autouse=True)
async def tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


async def record(uow: UnitOfWork, event: TicketUpdated, replica: str) -> None:
    values = {"ticket_id": event.data.id, "version": event.data.version, "replica": replica}
    await uow.session.execute(sa.insert(applied).values(values))


def replica_of_tickets(replica: str) -> Handler:
    """Orders' kind of handler: version n+1 on top of n (the row locked), else it waits."""

    async def apply(event: TicketUpdated, uow: UnitOfWork) -> None:
        current = await uow.session.scalar(
            sa.select(replica_versions.c.version)
            .where(replica_versions.c.id == event.data.id)
            .with_for_update()
        )
        if not should_apply(-1 if current is None else current, event.data.version):
            return
        upsert = postgresql.insert(replica_versions).values(
            id=event.data.id, version=event.data.version
        )
        await uow.session.execute(
            upsert.on_conflict_do_update(
                index_elements=[replica_versions.c.id], set_={"version": event.data.version}
            )
        )
        await record(uow, event, replica)

    return apply


@asynccontextmanager
async def replica(
    engine: AsyncEngine, bus: Bus, handler: Handler, **options: float
) -> AsyncIterator[EventConsumer]:
    """One process of the service: its own pool on the shared database, the shared durable."""
    own = create_engine(engine.url.render_as_string(hide_password=False))
    sessionmaker = create_sessionmaker(own)
    try:
        yield EventConsumer(
            durable=DURABLE,
            bus=bus,
            subscriptions={TicketUpdated: handler},
            unit_of_work=lambda: UnitOfWork(sessionmaker, namespace=bus.names.namespace),
            backoff_seconds=[0.05],
            concurrency=4,
            **options,  # type: ignore[arg-type]
        )
    finally:
        await own.dispose()


async def applied_rows(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> list[tuple[UUID, int, str]]:
    """(ticket, version, replica) of every version applied, in the order they were."""
    async with sessionmaker() as session:
        query = sa.select(applied.c.ticket_id, applied.c.version, applied.c.replica)
        rows = await session.execute(query.order_by(applied.c.seq))
    return [(row.ticket_id, row.version, row.replica) for row in rows]


async def versions_applied(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[UUID, list[int]]:
    """Each ticket's versions in the order they were applied."""
    found: dict[UUID, list[int]] = {}
    for ticket_id, version, _ in await applied_rows(sessionmaker):
        found.setdefault(ticket_id, []).append(version)
    return found


async def settled(bus: Bus) -> None:
    info = await bus.js.consumer_info(bus.names.stream, DURABLE)
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


async def test_two_replicas_handling_many_aggregates_at_once_apply_each_ones_in_order(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], bus: Bus
) -> None:
    tickets = [uuid4() for _ in range(5)]
    async with (
        replica(engine, bus, replica_of_tickets("a")) as a,
        replica(engine, bus, replica_of_tickets("b")) as b,
        consuming(a, b),
    ):
        for version in range(8):  # the aggregates interleaved on the stream
            for ticket in tickets:
                await publish_event(bus, ticket_updated(ticket, version))

        async def all_applied() -> None:
            assert sum(map(len, (await versions_applied(sessionmaker)).values())) == 40
            await settled(bus)

        await eventually(all_applied, timeout=120)

    assert await versions_applied(sessionmaker) == {ticket: list(range(8)) for ticket in tickets}
    assert {replica for _, _, replica in await applied_rows(sessionmaker)} == {"a", "b"}
    assert await list_dead_letters(bus) == []


def recorder_holding_up(slow: UUID, released: asyncio.Event, began: list[float]) -> Handler:
    """Records every version as it comes; the first of ``slow`` waits until ``released``."""

    async def handle(event: TicketUpdated, uow: UnitOfWork) -> None:
        if event.data.id == slow and event.data.version == 0:
            began.append(time.monotonic())
            await released.wait()
        await record(uow, event, "only")

    return handle


async def test_an_event_held_up_delays_its_own_aggregate_only_and_is_never_redelivered(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], bus: Bus
) -> None:
    slow, fast = uuid4(), uuid4()
    released, began = asyncio.Event(), list[float]()
    handler = recorder_holding_up(slow, released, began)
    async with (
        replica(engine, bus, handler, ack_wait_seconds=1) as consumer,
        consuming(consumer),
    ):
        for ticket in (slow, fast):  # the slow aggregate's events first on the stream
            for version in range(3):
                await publish_event(bus, ticket_updated(ticket, version))

        async def the_other_aggregate_went_past() -> None:
            assert await versions_applied(sessionmaker) == {fast: [0, 1, 2]}
            # and the held message and the two behind it outlived three ack deadlines
            assert began and time.monotonic() - began[0] > 3

        await eventually(the_other_aggregate_went_past, timeout=30)
        released.set()

        async def all_applied() -> None:
            assert (await versions_applied(sessionmaker)).get(slow) == [0, 1, 2]
            await settled(bus)

        await eventually(all_applied, timeout=30)

    info = await bus.js.consumer_info(bus.names.stream, DURABLE)
    assert info.num_redelivered == 0  # no message waiting here was handed out again
    assert len(began) == 1
    assert await list_dead_letters(bus) == []


async def test_while_an_outage_holds_a_message_no_other_one_starts(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], bus: Bus
) -> None:
    held, other = uuid4(), uuid4()
    attempts: list[float] = []
    outage = True

    async def handle(event: TicketUpdated, uow: UnitOfWork) -> None:
        if event.data.id == held:
            attempts.append(time.monotonic())
            if outage:
                raise TransientError("the mail relay answered 421")
        await record(uow, event, "only")

    async with (
        replica(engine, bus, handle, ack_wait_seconds=1) as consumer,
        consuming(consumer),
    ):
        await publish_event(bus, ticket_updated(held, 0))

        async def held_by_the_outage() -> None:
            assert len(attempts) >= 2

        await eventually(held_by_the_outage, timeout=30)
        await publish_event(bus, ticket_updated(other, 0))
        retried = len(attempts)

        async def held_for_three_more_retries() -> None:
            assert len(attempts) >= retried + 3

        await eventually(held_for_three_more_retries, timeout=30)
        assert await versions_applied(sessionmaker) == {}  # the other one waited too
        outage = False

        async def both_applied() -> None:
            assert await versions_applied(sessionmaker) == {held: [0], other: [0]}
            await settled(bus)

        await eventually(both_applied, timeout=30)

    info = await bus.js.consumer_info(bus.names.stream, DURABLE)
    assert info.num_redelivered == 0  # the outage spent no delivery
    assert await list_dead_letters(bus) == []
