"""DESIGN §4 "Idempotent handlers" with two replicas: when two replicas receive the same
event at once (a redelivery while the first is still handling it), one applies it and the
other finds it claimed. The second one waits for the first, then skips the event. It does not
apply it twice, log a failure or nak it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus
from ticketing.common.consumer import EventConsumer, Handler
from ticketing.common.db import create_engine, create_sessionmaker
from ticketing.common.dlq import list_dead_letters
from ticketing.common.events import UserCreated, UserCreatedData
from ticketing.common.uow import UnitOfWork
from ticketing.testkit.events import publish_event
from ticketing.testkit.http import eventually

if TYPE_CHECKING:
    from conftest import Applications


@asynccontextmanager
async def replica(engine: AsyncEngine, bus: Bus, handler: Handler) -> AsyncIterator[EventConsumer]:
    """Another process of the same service: its own pool, the same database and durable."""
    own = create_engine(engine.url.render_as_string(hide_password=False))
    sessionmaker = create_sessionmaker(own)
    try:
        yield EventConsumer(
            durable="claimer",
            bus=bus,
            subscriptions={UserCreated: handler},
            unit_of_work=lambda: UnitOfWork(sessionmaker, namespace=bus.names.namespace),
        )
    finally:
        await own.dispose()


async def someone_waits_for_a_lock(session: AsyncSession) -> None:
    waiting = await session.scalar(
        sa.text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    )
    assert waiting, "the other replica is not waiting for this one yet"


def recorder(
    observer: async_sessionmaker[AsyncSession], entries: list[str], applications: Applications
) -> Handler:
    """Applies the event; the first replica to get here finishes only once the other replica
    has reached the same event and waits on it."""

    async def record(event: UserCreated, uow: UnitOfWork) -> None:
        entries.append("entered")
        if len(entries) == 1:
            async with observer() as session:
                await eventually(lambda: someone_waits_for_a_lock(session), timeout=30)
        await applications.record(event, uow)

    return record


async def test_the_same_event_at_two_replicas_at_once_is_applied_once_without_a_failure(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    bus: Bus,
    caplog: pytest.LogCaptureFixture,
    applications: Applications,
) -> None:
    entries: list[str] = []
    handler = recorder(sessionmaker, entries, applications)
    event = UserCreated(data=UserCreatedData(id=uuid4(), email="someone@example.com"))
    await publish_event(bus, event, msg_id="first")
    await publish_event(bus, event, msg_id="redelivered")  # the same event, a second message

    async with (
        replica(engine, bus, handler) as first,
        replica(engine, bus, handler) as second,
    ):
        subscription = await first.subscribe()
        one, other = await subscription.fetch(2, timeout=10)
        with caplog.at_level(logging.WARNING, logger="ticketing.consumer"):
            await asyncio.gather(first.handle(one), second.handle(other))

    assert await applications.event_ids() == [event.id]
    assert entries == ["entered"]  # the second replica never ran the handler
    # No failure, no retry: the consumer warned of nothing (INFO lines may be logged; and
    # another test's bus closing in this process may warn meanwhile, which is not this one's).
    warned = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("ticketing.consumer")
    ]
    assert warned == []
    info = await bus.js.consumer_info(bus.names.stream, "claimer")
    assert (info.num_ack_pending, info.num_redelivered, info.num_pending) == (0, 0, 0)
    assert await list_dead_letters(bus) == []
