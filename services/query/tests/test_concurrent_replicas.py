"""Two replicas applying events at the same moment (``locks.py``): events of different tickets
apply at once, events that shape one listing wait for each other and never miss each other's
rows, and a rebuild keeps every live handler out. Each replica is a real connection of its
own; a wait is shown by PostgreSQL (a session waiting for an advisory lock), never by timing."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from query_world import reservation, ticket_created, user_banned
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.db import (
    create_engine,
    create_migration_engine,
    create_sessionmaker,
    run_migrations,
)
from ticketing.common.events import Event
from ticketing.common.uow import UnitOfWork
from ticketing.query.config import QuerySettings
from ticketing.query.listeners import SUBSCRIPTIONS
from ticketing.query.locks import lock_exclusively
from ticketing.query.models import Listing
from ticketing.query.rebuild import MIGRATIONS_DIR
from ticketing.testkit.events import payment_created
from ticketing.testkit.http import eventually
from ticketing.testkit.locks import someone_waits_for_an_advisory_lock

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(query_settings: QuerySettings) -> AsyncIterator[Sessions]:
    """Connections to a migrated read model, as many as the replicas of a test need."""
    migrator = create_migration_engine(query_settings.database_url)
    try:
        await run_migrations(migrator, MIGRATIONS_DIR)
    finally:
        await migrator.dispose()
    engine = create_engine(query_settings.database_url, pool_size=4)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@asynccontextmanager
async def applying(sessions: Sessions, event: Event) -> AsyncIterator[UnitOfWork]:
    """A replica that has applied ``event``, as the consumer does, and not committed yet
    (the block may commit it; otherwise it rolls back at the end)."""
    async with UnitOfWork(sessions, namespace="test") as uow:
        assert await uow.claim(event)
        await SUBSCRIPTIONS[type(event)](event, uow)
        yield uow


async def apply(sessions: Sessions, event: Event) -> None:
    """Another replica applies ``event`` and commits."""
    async with applying(sessions, event) as uow:
        await uow.commit()


async def apply_while_uncommitted_elsewhere(
    sessions: Sessions, first: Event, *, then: Event
) -> None:
    """Replica A applies ``first`` and holds it uncommitted; replica B applies ``then``, which
    must wait for A's commit (seen in ``pg_stat_activity``) and then see A's rows."""
    async with applying(sessions, first) as replica_a:
        replica_b = asyncio.create_task(apply(sessions, then))
        await eventually(lambda: someone_waits_for_an_advisory_lock(sessions))
        await replica_a.commit()
    await replica_b


async def advisory_locks(session: AsyncSession, condition: str) -> int:
    """How many advisory locks of this database match ``condition`` (SQL on ``pg_locks``)."""
    this_database = "database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    count = await session.scalar(
        sa.select(sa.func.count())
        .select_from(sa.text("pg_locks"))
        .where(sa.text("locktype = 'advisory'"), sa.text(this_database), sa.text(condition))
    )
    return count or 0


async def finished(task: asyncio.Task[None]) -> None:
    assert task.done(), "the other replica is still waiting"
    task.result()  # its failure, if it failed


async def status_of(sessions: Sessions, ticket_id: UUID) -> str | None:
    async with sessions() as session:
        return await session.scalar(sa.select(Listing.status).where(Listing.id == ticket_id))


async def test_other_tickets_and_a_ban_apply_while_a_ticket_is_applied_elsewhere(
    sessions: Sessions,
) -> None:
    busy, other = uuid4(), uuid4()

    async with applying(sessions, ticket_created(busy)):  # replica A holds its transaction
        replica_b = asyncio.create_task(apply(sessions, ticket_created(other)))
        replica_c = asyncio.create_task(apply(sessions, user_banned(uuid4())))
        await eventually(lambda: finished(replica_b))
        await eventually(lambda: finished(replica_c))

    assert (await status_of(sessions, other), await status_of(sessions, busy)) == (
        "available",
        None,  # A rolled back
    )


async def test_a_ticket_applied_while_its_order_is_uncommitted_elsewhere_shows_the_order(
    sessions: Sessions,
) -> None:
    ticket_id = uuid4()
    order = reservation(uuid4(), ticket_id, uuid4())

    await apply_while_uncommitted_elsewhere(sessions, order, then=ticket_created(ticket_id))

    assert await status_of(sessions, ticket_id) == "reserved"


async def test_an_order_applied_while_its_payment_is_uncommitted_elsewhere_sells_the_ticket(
    sessions: Sessions,
) -> None:
    ticket_id, order_id = uuid4(), uuid4()
    await apply(sessions, ticket_created(ticket_id))

    order = reservation(order_id, ticket_id, uuid4())
    await apply_while_uncommitted_elsewhere(sessions, payment_created(order_id), then=order)

    assert await status_of(sessions, ticket_id) == "sold"


async def test_a_live_handler_waits_while_a_rebuild_holds_the_read_model(
    sessions: Sessions,
) -> None:
    ticket_id = uuid4()

    async with sessions() as rebuild, rebuild.begin():
        await lock_exclusively(rebuild)
        live = asyncio.create_task(apply(sessions, ticket_created(ticket_id)))
        await eventually(lambda: someone_waits_for_an_advisory_lock(sessions))
        assert not live.done()
        held_by_others = await advisory_locks(rebuild, "granted AND pid <> pg_backend_pid()")
    await live

    assert held_by_others == 0  # the waiting handler holds no listing key: no deadlock cycle
    assert await status_of(sessions, ticket_id) == "available"


async def test_a_rebuild_waits_for_a_live_handler_in_flight(sessions: Sessions) -> None:
    ticket_id = uuid4()

    async def rebuild() -> None:
        async with sessions() as session, session.begin():
            await lock_exclusively(session)
            assert await session.get(Listing, ticket_id) is not None  # what live committed

    async with applying(sessions, ticket_created(ticket_id)) as live:
        rebuilding = asyncio.create_task(rebuild())
        await eventually(lambda: someone_waits_for_an_advisory_lock(sessions))
        await live.commit()
    await rebuilding


async def test_handlers_run_by_the_rebuild_take_no_lock_of_their_own(sessions: Sessions) -> None:
    ticket_id, order_id = uuid4(), uuid4()
    events: list[Event] = [
        ticket_created(uuid4()),
        ticket_created(ticket_id),
        reservation(order_id, ticket_id, uuid4()),
        payment_created(order_id),
    ]

    async with UnitOfWork(sessions, namespace="test") as rebuild:
        await lock_exclusively(rebuild.session)
        for event in events:
            await SUBSCRIPTIONS[type(event)](event, rebuild)
        held = await advisory_locks(rebuild.session, "pid = pg_backend_pid()")
        status = await rebuild.session.scalar(
            sa.select(Listing.status).where(Listing.id == ticket_id)
        )

    assert (held, status) == (1, "sold")  # one lock however many listings it replays
