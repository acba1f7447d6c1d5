"""``dlq replay``: a dead letter goes back to the consumer that gave up on it, and to no other
consumer of its subject (they handled it already)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus
from ticketing.common.consumer import Handler
from ticketing.common.db import create_engine, create_sessionmaker, infrastructure
from ticketing.common.dlq import list_dead_letters, replay_dead_letters, run_command
from ticketing.common.events import UserCreated
from ticketing.common.uow import UnitOfWork
from ticketing.testkit.events import publish_event, user_created
from ticketing.testkit.http import eventually
from ticketing.testkit.loops import consuming

if TYPE_CHECKING:
    from conftest import UserCreatedConsumer

applications = sa.Table(
    "replay_applications",
    sa.MetaData(),
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("consumer", sa.String(50), nullable=False),
    sa.Column("event_id", sa.Uuid, nullable=False),
)


@pytest.fixture(autouse=True)
async def applications_table(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        await session.run_sync(lambda s: applications.metadata.create_all(s.connection()))


@pytest.fixture
async def other_service(
    new_database: Callable[[str], Awaitable[str]], bus_namespace: str
) -> AsyncIterator[Callable[[], UnitOfWork]]:
    """Another service consuming the same subject, with its own database."""
    engine = create_engine(await new_database("other"))
    async with engine.begin() as conn:
        await conn.run_sync(infrastructure.create_all)
        await conn.run_sync(applications.metadata.create_all)
    sessionmaker = create_sessionmaker(engine)
    yield lambda: UnitOfWork(sessionmaker, namespace=bus_namespace)
    await engine.dispose()


def recording(consumer: str) -> Handler:
    async def record(event: UserCreated, uow: UnitOfWork) -> None:
        await uow.session.execute(
            sa.insert(applications).values(consumer=consumer, event_id=event.id)
        )

    return record


async def applied_by(*units_of_work: Callable[[], UnitOfWork]) -> list[str]:
    consumers: list[str] = []
    for unit_of_work in units_of_work:
        async with unit_of_work() as uow:
            query = sa.select(applications.c.consumer).order_by(applications.c.id)
            consumers.extend(await uow.session.scalars(query))
    return consumers


async def test_a_replayed_letter_reaches_only_the_consumer_that_dead_lettered_it(
    bus: Bus,
    user_created_consumer: UserCreatedConsumer,
    unit_of_work: Callable[[], UnitOfWork],
    other_service: Callable[[], UnitOfWork],
) -> None:
    fixed = False

    async def fragile(event: UserCreated, uow: UnitOfWork) -> None:
        if not fixed:
            raise RuntimeError("a bug, fixed later")
        await recording("fragile")(event, uow)

    fragile_consumer = user_created_consumer("fragile", fragile, max_deliver=2)
    steady_consumer = user_created_consumer(
        "steady", recording("steady"), unit_of_work=other_service
    )
    async with consuming(fragile_consumer, steady_consumer):
        await publish_event(bus, user_created())

        async def fragile_gave_up() -> None:
            assert [letter.consumer for letter in await list_dead_letters(bus)] == ["fragile"]
            assert await applied_by(unit_of_work, other_service) == ["steady"]

        await eventually(fragile_gave_up, timeout=30)
        fixed = True

        replayed = await replay_dead_letters(bus)

        async def fragile_applied_it() -> None:
            assert await applied_by(unit_of_work, other_service) == ["fragile", "steady"]

        await eventually(fragile_applied_it, timeout=30)
        steady = await bus.js.consumer_info(bus.names.stream, "steady")

    assert [letter.consumer for letter in replayed] == ["fragile"]
    assert await list_dead_letters(bus) == []
    assert steady.delivered.stream_seq == 1  # the replay never reached it
    assert (steady.num_pending, steady.num_ack_pending) == (0, 0)


async def dead_letter_of(bus: Bus, consumer: str) -> None:
    """A letter as ``consumer`` would have left it."""
    await bus.publish(
        bus.names.dlq_subject(consumer, "user_created"),
        user_created().to_bytes(),
        msg_id=f"{consumer}:1",
        headers={
            "Ticketing-Consumer": consumer,
            "Ticketing-Subject": bus.names.subject("user.created"),
            "Ticketing-Error": "RuntimeError('bug')",
            "Ticketing-Deliveries": "8",
        },
    )


async def test_the_dlq_command_replays_only_the_letters_of_the_consumer_asked_for(
    bus: Bus, capsys: pytest.CaptureFixture[str]
) -> None:
    await dead_letter_of(bus, "orders")
    await dead_letter_of(bus, "payments")
    where = ["--nats-url", bus.url, "--namespace", bus.names.namespace]

    assert await run_command(["replay", "--consumer", "orders", *where]) == 0

    assert "1 dead letter(s) replayed" in capsys.readouterr().out
    assert [letter.consumer for letter in await list_dead_letters(bus)] == ["payments"]
    state = await bus.js.stream_info(bus.names.stream, subjects_filter=">")
    assert state.state.subjects == {f"{bus.names.namespace}.replay.orders.user.created": 1}


async def test_a_replayed_letter_that_is_still_unreadable_is_dead_lettered_again_at_once(
    bus: Bus, user_created_consumer: UserCreatedConsumer
) -> None:
    consumer = user_created_consumer("strict", recording("strict"))
    await bus.publish(bus.names.subject("user.created"), b"{not json", msg_id="garbage")
    async with consuming(consumer):

        async def dead_lettered_from(subject: str) -> None:
            letters = await list_dead_letters(bus)
            assert [(letter.subject, letter.deliveries) for letter in letters] == [(subject, 1)]

        await eventually(lambda: dead_lettered_from(bus.names.subject("user.created")))

        await replay_dead_letters(bus, consumer="strict")

        replay = f"{bus.names.namespace}.replay.strict.user.created"
        await eventually(lambda: dead_lettered_from(replay), timeout=30)
