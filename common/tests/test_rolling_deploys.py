"""A rolling deploy runs old and new replicas of a service on one durable consumer (DESIGN §4
"Any number of replicas"): the durable is only widened, never narrowed, and a replica leaves
the types it cannot handle to one that can. Real NATS JetStream throughout."""

import asyncio
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from ticketing.common.bus import Bus
from ticketing.common.consumer import EventConsumer
from ticketing.common.dlq import list_dead_letters, replay_filter
from ticketing.common.durable import DurableConfigError, filter_subjects
from ticketing.common.events import (
    Event,
    TicketCreated,
    TicketCreatedData,
    UserBanned,
    UserCreated,
)
from ticketing.testkit.events import publish_event, user_created
from ticketing.testkit.http import eventually
from ticketing.testkit.loops import running

DURABLE = "shop"


class Replica:
    """One replica of a service: a consumer with the handlers of its code version."""

    def __init__(self, bus: Bus, *types: type[Event], unhandled_timeout: float = 900) -> None:
        self.handled: list[Event] = []
        self.consumer = EventConsumer(
            durable=DURABLE,
            bus=bus,
            subscriptions={event_type: self._record for event_type in types},
            unit_of_work=None,
            unhandled_timeout_seconds=unhandled_timeout,
        )

    async def _record(self, event: Event, uow: Any) -> None:
        self.handled.append(event)

    def handled_of(self, event_type: type[Event]) -> list[Event]:
        return [event for event in self.handled if isinstance(event, event_type)]


def ticket_created() -> TicketCreated:
    data = TicketCreatedData(
        id=uuid4(), title="Gig", price=Decimal("10"), user_id=uuid4(), version=0
    )
    return TicketCreated(data=data)


async def durable_subjects(bus: Bus) -> set[str]:
    info = await bus.js.consumer_info(bus.names.stream, DURABLE)
    return set(filter_subjects(info.config))


def subjects_of(bus: Bus, *event_types: str) -> set[str]:
    """What the durable delivers for these types: theirs and the durable's replayed letters."""
    return {bus.names.subject(t) for t in event_types} | {replay_filter(bus.names, DURABLE)}


@pytest.mark.parametrize("first", ["old", "new"])
async def test_events_only_a_newer_version_handles_reach_it_whichever_replica_started_last(
    bus: Bus, first: str
) -> None:
    old, new = Replica(bus, TicketCreated), Replica(bus, TicketCreated, UserCreated)
    for replica in (old, new) if first == "old" else (new, old):
        await replica.consumer.subscribe()
    users = [user_created() for _ in range(10)]
    tickets = [ticket_created() for _ in range(10)]

    # The new replica is down for a moment: only the old one runs, and it is offered every
    # user.created first (they come before the tickets on the stream).
    async with running(old.consumer):
        for event in [*users, *tickets]:
            await publish_event(bus, event)

        async def old_handled_the_tickets() -> None:
            assert len(old.handled) == len(tickets)

        await eventually(old_handled_the_tickets, timeout=30)
        async with running(new.consumer):

            async def new_handled_the_users() -> None:
                assert len(new.handled_of(UserCreated)) == len(users)

            await eventually(new_handled_the_users, timeout=60)

    assert await durable_subjects(bus) == subjects_of(bus, "ticket.created", "user.created")
    assert sorted(e.id for e in new.handled_of(UserCreated)) == sorted(e.id for e in users)
    assert old.handled_of(UserCreated) == []
    assert await list_dead_letters(bus) == []


async def test_replicas_widening_the_durable_at_once_keep_every_subject(bus: Bus) -> None:
    replicas = [
        Replica(bus, TicketCreated, UserCreated),
        Replica(bus, TicketCreated, UserBanned),
        Replica(bus, UserCreated, UserBanned),
    ]

    await asyncio.gather(*(replica.consumer.subscribe() for replica in replicas))

    assert await durable_subjects(bus) == subjects_of(
        bus, "ticket.created", "user.created", "user.banned"
    )


async def test_a_restart_with_fewer_types_narrows_nothing(bus: Bus) -> None:
    await Replica(bus, TicketCreated, UserCreated, UserBanned).consumer.subscribe()

    await Replica(bus, UserBanned).consumer.subscribe()

    assert await durable_subjects(bus) == subjects_of(
        bus, "ticket.created", "user.created", "user.banned"
    )


async def test_an_older_durable_gets_this_codes_limits_but_keeps_higher_ones(bus: Bus) -> None:
    before = ConsumerConfig(
        durable_name=DURABLE,
        ack_policy=AckPolicy.EXPLICIT,
        filter_subject=bus.names.subject("user.created"),
        max_deliver=8,  # an earlier version's budget, below this code's server limit
        ack_wait=120,  # an operator's longer ack wait
    )
    await bus.js.add_consumer(bus.names.stream, config=before)
    replica = Replica(bus, UserCreated, UserBanned)

    await replica.consumer.subscribe()

    after = (await bus.js.consumer_info(bus.names.stream, DURABLE)).config
    assert after.max_deliver == 8 * 25
    assert after.ack_wait == 120
    assert set(filter_subjects(after)) == subjects_of(bus, "user.created", "user.banned")


async def test_a_durable_this_code_cannot_use_is_reported_and_left_alone(bus: Bus) -> None:
    await bus.js.add_consumer(
        bus.names.stream,
        config=ConsumerConfig(durable_name=DURABLE, ack_policy=AckPolicy.NONE),
    )
    replica = Replica(bus, UserCreated)

    with pytest.raises(DurableConfigError, match="cannot be changed in place"):
        await replica.consumer.subscribe()

    assert replica.consumer.problem is not None
    assert f"nats consumer rm {bus.names.stream} {DURABLE}" in replica.consumer.problem
    info = await bus.js.consumer_info(bus.names.stream, DURABLE)
    assert info.config.ack_policy == AckPolicy.NONE


async def test_a_type_no_replica_handles_any_more_is_dead_lettered_after_the_timeout(
    bus: Bus,
) -> None:
    await Replica(bus, TicketCreated, UserCreated).consumer.subscribe()  # since rolled back
    rolled_back = Replica(bus, TicketCreated, unhandled_timeout=1)
    orphan = user_created()

    async with running(rolled_back.consumer):
        await publish_event(bus, orphan)

        async def dead_lettered() -> None:
            letters = await list_dead_letters(bus)
            assert len(letters) == 1
            assert letters[0].subject == bus.names.subject("user.created")
            assert "no running replica of shop handles it" in letters[0].error

        await eventually(dead_lettered, timeout=30)
