"""``python -m ticketing.common.outbox republish --since T``: what the stream lost after T goes
out again, in order, and consumers that had it already change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.dlq import list_dead_letters
from ticketing.common.events import UserCreated
from ticketing.common.outbox import OutboxRelay, run_command
from ticketing.common.uow import UnitOfWork
from ticketing.testkit.events import events_of, user_created
from ticketing.testkit.http import eventually
from ticketing.testkit.loops import consuming

if TYPE_CHECKING:
    from conftest import Applications, UserCreatedConsumer


async def commit_events(unit_of_work: Callable[[], UnitOfWork], count: int) -> list[UserCreated]:
    events = [user_created() for _ in range(count)]
    for event in events:
        async with unit_of_work() as uow:
            uow.publish(event)
            await uow.commit()
    return events


def republish_command(engine: AsyncEngine, bus: Bus, since: str) -> list[str]:
    return [
        "republish",
        "--since",
        since,
        "--database-url",
        engine.url.render_as_string(hide_password=False),
        "--nats-url",
        bus.url,
        "--namespace",
        bus.names.namespace,
    ]


async def test_republish_sends_again_in_order_what_was_published_since_t(
    engine: AsyncEngine,
    unit_of_work: Callable[[], UnitOfWork],
    relay: OutboxRelay,
    bus: Bus,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = await commit_events(unit_of_work, 2)
    await relay.publish_pending()
    since = utcnow()
    after = await commit_events(unit_of_work, 3)
    await relay.publish_pending()

    assert await run_command(republish_command(engine, bus, since.isoformat())) == 0

    assert "3 event(s) republished" in capsys.readouterr().out
    assert await events_of(bus, UserCreated) == [*before, *after, *after]


async def test_republish_is_safe_for_consumers_that_had_the_events(
    engine: AsyncEngine,
    unit_of_work: Callable[[], UnitOfWork],
    relay: OutboxRelay,
    bus: Bus,
    user_created_consumer: UserCreatedConsumer,
    applications: Applications,
) -> None:
    consumer = user_created_consumer("republished", applications.record)
    async with consuming(consumer):
        since = utcnow()
        events = await commit_events(unit_of_work, 3)
        await relay.publish_pending()

        await run_command(republish_command(engine, bus, since.isoformat()))

        async def caught_up() -> None:
            info = await bus.js.consumer_info(bus.names.stream, "republished")
            assert info.delivered.stream_seq == 6  # the copies were delivered too
            assert (info.num_pending, info.num_ack_pending) == (0, 0)

        await eventually(caught_up, timeout=30)

    applied = await applications.event_ids()
    assert sorted(applied) == sorted(event.id for event in events)
    assert await list_dead_letters(bus) == []


async def test_republish_refuses_a_moment_without_a_time_zone(
    engine: AsyncEngine, bus: Bus
) -> None:
    with pytest.raises(SystemExit) as refused:
        await run_command(republish_command(engine, bus, "2026-12-01T10:00:00"))

    assert refused.value.code == 2
