"""The transactional outbox (DESIGN §4) against real PostgreSQL and NATS JetStream: an event
is published only if its transaction committed, once, even across a NATS outage, and published
rows are pruned after their retention."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus
from ticketing.common.db import outbox
from ticketing.common.events import UserCreated
from ticketing.common.outbox import OutboxRelay
from ticketing.common.uow import UnitOfWork
from ticketing.testkit.embedded import EmbeddedNats
from ticketing.testkit.events import user_created
from ticketing.testkit.http import eventually
from ticketing.testkit.loops import running


async def stream_messages(bus: Bus) -> int:
    return (await bus.js.stream_info(bus.names.stream)).state.messages


async def test_an_event_of_a_rolled_back_transaction_is_never_published(
    unit_of_work: Callable[[], UnitOfWork], relay: OutboxRelay, bus: Bus
) -> None:
    async with unit_of_work() as uow:
        uow.publish(user_created())
        await uow.rollback()

    published = await relay.publish_pending()

    assert published == 0
    assert await stream_messages(bus) == 0


async def test_a_committed_event_is_published_once_with_its_id(
    unit_of_work: Callable[[], UnitOfWork], relay: OutboxRelay, bus: Bus
) -> None:
    event = user_created()
    async with unit_of_work() as uow:
        uow.publish(event)
        await uow.commit()

    assert await relay.publish_pending() == 1
    assert await relay.publish_pending() == 0
    message = await bus.js.get_last_msg(bus.names.stream, bus.names.subject("user.created"))
    assert message.headers is not None and message.headers["Nats-Msg-Id"] == str(event.id)
    assert UserCreated.model_validate_json(message.data or b"") == event


async def test_an_event_committed_while_nats_is_down_is_published_when_it_is_back(
    tmp_path: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
    bus_namespace: str,
) -> None:
    nats = EmbeddedNats(tmp_path / "nats").start()
    bus = Bus(nats.url, bus_namespace)
    await bus.connect()
    relay = OutboxRelay(sessionmaker, bus, poll_seconds=0.1)
    try:
        async with running(relay):
            nats.stop()
            async with UnitOfWork(
                sessionmaker, namespace=bus_namespace, on_commit=relay.notify
            ) as uow:
                uow.publish(user_created())
                await uow.commit()

            nats.start()  # same port, same store dir

            async def published() -> None:
                async with sessionmaker() as session:
                    pending = await session.scalar(
                        sa.select(sa.func.count()).where(outbox.c.published_at.is_(None))
                    )
                assert pending == 0

            await eventually(published, timeout=30)
            assert await stream_messages(bus) == 1
    finally:
        await bus.close()
        nats.stop()


async def test_published_outbox_rows_are_pruned_after_the_retention_period(
    unit_of_work: Callable[[], UnitOfWork],
    relay: OutboxRelay,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    for _ in range(2):
        async with unit_of_work() as uow:
            uow.publish(user_created())
            await uow.commit()
    await relay.publish_pending()
    async with unit_of_work() as uow:
        uow.publish(user_created())  # committed, not yet published: never pruned
        await uow.commit()

    kept = await relay.prune_published()  # default retention: everything is recent
    pruned = await relay.prune_published(older_than=timedelta(seconds=-1))

    assert (kept, pruned) == (0, 2)
    async with sessionmaker() as session:
        remaining = await session.scalar(sa.select(sa.func.count()).select_from(outbox))
    assert remaining == 1
