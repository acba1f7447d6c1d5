"""DESIGN §4 "Any number of replicas": however many relays run on one database, one
aggregate's events reach the stream in the order they were committed, and a relay that dies
mid-batch leaves nothing unpublished and nothing out of order."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from nats.js.errors import NoStreamResponseError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ticketing.common.background import cancel_until_done
from ticketing.common.bus import Bus
from ticketing.common.db import create_sessionmaker, outbox
from ticketing.common.events import TicketUpdated
from ticketing.common.outbox import RELAY_LOCK_ID, OutboxRelay
from ticketing.common.uow import UnitOfWork
from ticketing.testkit.events import events_of, ticket_updated
from ticketing.testkit.http import eventually

EVENTS = 120


@asynccontextmanager
async def replica_engine(engine: AsyncEngine, name: str) -> AsyncIterator[AsyncEngine]:
    """Another process's connection pool on the same database, named so a test can find it."""
    own = create_async_engine(
        engine.url, connect_args={"server_settings": {"application_name": name}}
    )
    try:
        yield own
    finally:
        await own.dispose()


async def write_interleaved(
    unit_of_work: Callable[[], UnitOfWork], tickets: list[UUID], versions: range
) -> dict[UUID, list[TicketUpdated]]:
    """Several aggregates changed in turn, one commit per version: each batch mixes them."""
    written: dict[UUID, list[TicketUpdated]] = {ticket: [] for ticket in tickets}
    for version in versions:
        for ticket in tickets:
            event = ticket_updated(ticket, version)
            async with unit_of_work() as uow:
                uow.publish(event)
                await uow.commit()
            written[ticket].append(event)
    return written


async def versions_on_the_stream(bus: Bus) -> dict[UUID, list[int]]:
    """Each ticket's versions in the order the stream has them (a duplicate would show)."""
    found: dict[UUID, list[int]] = {}
    for event in await events_of(bus, TicketUpdated):
        found.setdefault(event.data.id, []).append(event.data.version)
    return found


async def unpublished_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        query = sa.select(sa.func.count()).where(outbox.c.published_at.is_(None))
        return int(await conn.scalar(query) or 0)


async def publish_until_cancelled(relay: OutboxRelay, counts: list[int]) -> None:
    """A relay's loop without the wait: each pass publishes a batch if it holds the lock."""
    while True:
        counts.append(await relay.publish_pending())
        await asyncio.sleep(0)


async def publish_all(engine: AsyncEngine, *relays: OutboxRelay) -> list[int]:
    """The relays running at once until nothing is left unpublished; how many rows each
    published."""
    counts: list[list[int]] = [[] for _ in relays]
    tasks = [
        asyncio.create_task(publish_until_cancelled(relay, count))
        for relay, count in zip(relays, counts, strict=True)
    ]
    try:

        async def all_published() -> None:
            assert await unpublished_rows(engine) == 0

        await eventually(all_published, timeout=60)
    finally:
        await cancel_until_done(tasks)
    return [sum(count) for count in counts]


async def kill(engine: AsyncEngine, application_name: str) -> None:
    """What a replica's death does to its database sessions: they end, mid-transaction."""
    async with engine.connect() as conn:
        await conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = :name"
            ),
            {"name": application_name},
        )


async def test_two_relays_on_one_database_publish_an_aggregates_events_in_order(
    engine: AsyncEngine, bus: Bus, bus_namespace: str
) -> None:
    ticket_id = uuid4()
    sessionmaker = create_sessionmaker(engine)
    await write_interleaved(  # a backlog both relays see at once, as after an outage
        lambda: UnitOfWork(sessionmaker, namespace=bus_namespace), [ticket_id], range(EVENTS)
    )
    async with replica_engine(engine, "relay-a") as a, replica_engine(engine, "relay-b") as b:
        relays = [OutboxRelay(create_sessionmaker(own), bus, batch_size=5) for own in (a, b)]
        counts = await publish_all(engine, *relays)

    assert await versions_on_the_stream(bus) == {ticket_id: list(range(EVENTS))}
    assert all(counts), "both relays took turns publishing"


async def lock_holder(engine: AsyncEngine) -> str:
    """The application name of the connection holding the relay lock right now."""
    async with engine.connect() as conn:
        holder = await conn.scalar(
            sa.text(
                "SELECT a.application_name FROM pg_locks l"
                " JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.database = ("
                "   SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND l.objid = :key"
            ),
            {"key": RELAY_LOCK_ID},
        )
    assert holder is not None, "no relay holds the lock at this moment"
    return str(holder)


async def test_when_the_publishing_relay_dies_mid_batch_the_other_takes_over_in_order(
    engine: AsyncEngine, bus: Bus, bus_namespace: str
) -> None:
    ticket_id = uuid4()
    sessionmaker = create_sessionmaker(engine)
    await write_interleaved(
        lambda: UnitOfWork(sessionmaker, namespace=bus_namespace), [ticket_id], range(EVENTS)
    )
    async with replica_engine(engine, "relay-a") as a, replica_engine(engine, "relay-b") as b:
        dying = asyncio.create_task(
            publish_until_cancelled(OutboxRelay(create_sessionmaker(a), bus, batch_size=5), [])
        )

        async def a_is_publishing() -> None:
            assert await lock_holder(engine) == "relay-a"
            assert len((await versions_on_the_stream(bus)).get(ticket_id, [])) >= 10

        await eventually(a_is_publishing, timeout=60, interval=0.005)
        await kill(engine, "relay-a")  # the connection holding the lock goes, the task with it
        await cancel_until_done([dying])
        published_by_a = len((await versions_on_the_stream(bus))[ticket_id])

        (survivor_count,) = await publish_all(
            engine, OutboxRelay(create_sessionmaker(b), bus, batch_size=5)
        )

    assert published_by_a < EVENTS, "relay A died before finishing"
    assert survivor_count > 0
    assert await versions_on_the_stream(bus) == {ticket_id: list(range(EVENTS))}


async def test_two_relays_publishing_batches_of_many_aggregates_keep_each_ones_order(
    engine: AsyncEngine, bus: Bus, bus_namespace: str
) -> None:
    tickets = [uuid4() for _ in range(6)]
    sessionmaker = create_sessionmaker(engine)
    await write_interleaved(
        lambda: UnitOfWork(sessionmaker, namespace=bus_namespace), tickets, range(20)
    )
    async with replica_engine(engine, "relay-a") as a, replica_engine(engine, "relay-b") as b:
        relays = [OutboxRelay(create_sessionmaker(own), bus, batch_size=25) for own in (a, b)]
        counts = await publish_all(engine, *relays)

    assert await versions_on_the_stream(bus) == {ticket: list(range(20)) for ticket in tickets}
    assert all(counts), "both relays took turns publishing"


async def test_a_publish_failing_mid_batch_holds_back_its_aggregate_and_no_other(
    engine: AsyncEngine, relay: OutboxRelay, unit_of_work: Callable[[], UnitOfWork], bus: Bus
) -> None:
    stuck, other = uuid4(), uuid4()
    written = await write_interleaved(unit_of_work, [stuck, other], range(3))
    broken = written[stuck][1]
    # Its subject is one no stream captures: NATS answers "no responders" to that publish.
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(outbox)
            .where(outbox.c.event_id == broken.id)
            .values(subject=f"unrouted_{uuid4().hex[:8]}.ticket.updated")
        )

    with pytest.raises(NoStreamResponseError):
        await relay.publish_pending()

    assert await versions_on_the_stream(bus) == {stuck: [0], other: [0, 1, 2]}
    assert await unpublished_rows(engine) == 2  # the failed row and the one behind it
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(outbox)
            .where(outbox.c.event_id == broken.id)
            .values(subject=broken.subject(bus.names.namespace))
        )
    assert await relay.publish_pending() == 2
    assert await versions_on_the_stream(bus) == {stuck: [0, 1, 2], other: [0, 1, 2]}


async def test_a_relay_killed_between_publishing_and_marking_is_republished_without_copies(
    engine: AsyncEngine, bus: Bus, bus_namespace: str
) -> None:
    tickets = [uuid4(), uuid4()]
    sessionmaker = create_sessionmaker(engine)
    await write_interleaved(
        lambda: UnitOfWork(sessionmaker, namespace=bus_namespace), tickets, range(5)
    )
    async with (
        replica_engine(engine, "relay-a") as a,
        replica_engine(engine, "relay-b") as b,
        engine.connect() as blocker,
    ):
        # Every row locked by another transaction: relay A can read and publish them, but its
        # marking waits, so it is killed in between.
        held = await blocker.begin()
        await blocker.execute(sa.select(outbox.c.seq).with_for_update())
        dying = asyncio.create_task(OutboxRelay(create_sessionmaker(a), bus).publish_pending())

        async def all_on_the_stream() -> None:
            assert sum(map(len, (await versions_on_the_stream(bus)).values())) == 10

        await eventually(all_on_the_stream, timeout=30)
        await kill(engine, "relay-a")
        with pytest.raises(sa.exc.DBAPIError):
            await dying
        await held.rollback()
        assert await unpublished_rows(engine) == 10  # none was marked

        republished = await OutboxRelay(create_sessionmaker(b), bus).publish_pending()

    assert republished == 10
    assert await unpublished_rows(engine) == 0
    # The stream dropped the second copies: their Nats-Msg-Id is the event id.
    assert await versions_on_the_stream(bus) == {ticket: list(range(5)) for ticket in tickets}
