"""The consumer side of DESIGN §4 against real PostgreSQL and NATS JetStream: deduplication,
idempotent handlers, bounded retries, dead letters and their replay."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest

from ticketing.common.bus import Bus
from ticketing.common.consumer import EventConsumer
from ticketing.common.dlq import list_dead_letters, replay_dead_letters
from ticketing.common.dlq import run_command as dlq_command
from ticketing.common.events import UserBanned, UserBannedData, UserCreated
from ticketing.common.uow import UnitOfWork
from ticketing.testkit.events import events_of, last_event, publish_event, user_created
from ticketing.testkit.http import eventually
from ticketing.testkit.loops import consuming

if TYPE_CHECKING:
    from conftest import Applications, UserCreatedConsumer


async def stream_messages(bus: Bus) -> int:
    return (await bus.js.stream_info(bus.names.stream)).state.messages


async def publish_raw(bus: Bus, event: UserCreated | UserBanned, msg_id: str | None = None) -> bool:
    return await bus.publish(
        bus.names.subject(event.type), event.to_bytes(), msg_id=msg_id or str(event.id)
    )


async def test_an_event_published_twice_with_the_same_id_is_stored_once(bus: Bus) -> None:
    event = user_created()

    first = await publish_raw(bus, event)
    second = await publish_raw(bus, event)

    assert (first, second) == (False, True)
    assert await stream_messages(bus) == 1


async def test_the_same_event_delivered_twice_is_applied_once(
    bus: Bus,
    user_created_consumer: UserCreatedConsumer,
    applications: Applications,
) -> None:
    event = user_created()
    consumer = user_created_consumer("applier", applications.record)
    # Two stream messages carrying one event: what a redelivery or a replay looks like.
    await publish_raw(bus, event, msg_id="first")
    await publish_raw(bus, event, msg_id="second")

    async with consuming(consumer):

        async def both_acked() -> None:
            info = await bus.js.consumer_info(bus.names.stream, "applier")
            assert info.num_ack_pending == 0 and info.num_pending == 0

        await eventually(both_acked)

    assert await applications.event_ids() == [event.id]


async def test_a_failing_handler_is_retried_then_dead_lettered_without_blocking_others(
    bus: Bus,
    unit_of_work: Callable[[], UnitOfWork],
    applications: Applications,
) -> None:
    attempts: list[int] = []

    async def always_fails(event: UserBanned, uow: UnitOfWork) -> None:
        attempts.append(1)
        raise RuntimeError("handler bug")

    consumer = EventConsumer(
        durable="fragile",
        bus=bus,
        subscriptions={UserBanned: always_fails, UserCreated: applications.record},
        unit_of_work=unit_of_work,
        max_deliver=3,
        backoff_seconds=[0.05],
    )
    poison = UserBanned(data=UserBannedData(user_id=uuid4()))
    await publish_raw(bus, poison)
    await publish_raw(bus, user_created())

    async with consuming(consumer):

        async def dead_lettered() -> None:
            letters = await list_dead_letters(bus)
            assert [letter.consumer for letter in letters] == ["fragile"]
            assert "handler bug" in letters[0].error
            assert letters[0].deliveries == 3

        await eventually(dead_lettered)
        assert await applications.count() == 1  # the later message went through
        assert len(attempts) == 3

    # And it stays there: no further retries once dead-lettered.
    info = await bus.js.consumer_info(bus.names.stream, "fragile")
    assert (info.num_ack_pending == 0 and info.num_redelivered == 0) or len(attempts) == 3


async def test_a_dead_letter_can_be_replayed_once_the_handler_is_fixed(
    bus: Bus,
    user_created_consumer: UserCreatedConsumer,
    applications: Applications,
) -> None:
    healthy = False

    async def flaky(event: UserCreated, uow: UnitOfWork) -> None:
        if not healthy:
            raise RuntimeError("downstream bug")
        await applications.record(event, uow)

    consumer = user_created_consumer("replayer", flaky, max_deliver=2)
    await publish_raw(bus, user_created())
    async with consuming(consumer):

        async def one_dead_letter() -> None:
            assert len(await list_dead_letters(bus)) == 1

        await eventually(one_dead_letter)
        healthy = True

        replayed = await replay_dead_letters(bus)

        async def applied() -> None:
            assert await applications.count() == 1

        await eventually(applied)
    assert len(replayed) == 1
    assert await list_dead_letters(bus) == []


async def test_an_unparseable_message_is_dead_lettered_at_once(
    bus: Bus, user_created_consumer: UserCreatedConsumer, applications: Applications
) -> None:
    consumer = user_created_consumer("strict", applications.record)
    await bus.publish(bus.names.subject("user.created"), b"{not json", msg_id="garbage")

    async with consuming(consumer):

        async def dead_lettered() -> None:
            letters = await list_dead_letters(bus)
            assert len(letters) == 1 and letters[0].deliveries == 1

        await eventually(dead_lettered)


async def test_the_test_helpers_read_back_what_was_published(bus: Bus) -> None:
    first, second = user_created(), user_created()
    await publish_event(bus, first)
    await publish_event(bus, second)

    assert await events_of(bus, UserCreated) == [first, second]
    assert await last_event(bus, UserCreated) == second
    assert await events_of(bus, UserBanned) == []


async def test_the_dlq_command_lists_and_replays(
    bus: Bus, capsys: pytest.CaptureFixture[str]
) -> None:
    await bus.publish(
        bus.names.dlq_subject("someone", "user_created"),
        user_created().to_bytes(),
        msg_id="dead-1",
        headers={
            "Ticketing-Consumer": "someone",
            "Ticketing-Subject": bus.names.subject("user.created"),
        },
    )
    where = ["--nats-url", bus.url, "--namespace", bus.names.namespace]

    assert await dlq_command(["list", *where]) == 0
    assert "1 dead letter(s) listed" in capsys.readouterr().out
    assert await dlq_command(["replay", *where]) == 0
    assert "1 dead letter(s) replayed" in capsys.readouterr().out

    assert await list_dead_letters(bus) == []
    replays = f"{bus.names.namespace}.replay.someone.user.created"  # to its consumer only
    on_the_stream = await bus.js.stream_info(bus.names.stream, subjects_filter=">")
    assert on_the_stream.state.subjects == {replays: 1}
