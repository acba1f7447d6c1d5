"""DESIGN §4 "Nothing vanishes at a limit": a message JetStream stops redelivering (its
``max_deliver`` reached without the consumer ever settling it) is dead-lettered anyway, by the
``MAX_DELIVERIES`` advisory backstop."""

import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from ticketing.common.advisories import MaxDeliveriesBackstop
from ticketing.common.bus import Bus
from ticketing.common.dlq import dead_letter, list_dead_letters
from ticketing.common.events import UserCreated
from ticketing.testkit.events import publish_event, user_created
from ticketing.testkit.http import eventually
from ticketing.testkit.loops import consuming

SERVER_LIMIT = 2


async def deliver_until_the_server_gives_up(bus: Bus, consumer: str) -> int:
    """A consumer that never settles its message properly, on a durable whose server limit
    is tiny; returns the message's stream sequence."""
    await bus.js.add_consumer(
        bus.names.stream,
        config=ConsumerConfig(
            durable_name=consumer,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=bus.names.subject("user.created"),
            max_deliver=SERVER_LIMIT,
            ack_wait=30,
        ),
    )
    subscription = await bus.js.pull_subscribe_bind(durable=consumer, stream=bus.names.stream)
    try:
        seq = 0
        for _ in range(SERVER_LIMIT):
            (message,) = await subscription.fetch(1, timeout=10)
            seq = message.metadata.sequence.stream
            await message.nak()
        # It keeps asking; the server has nothing more to give it (and announces why).
        with pytest.raises(NatsTimeoutError):
            await subscription.fetch(1, timeout=1)
        return seq
    finally:
        await subscription.unsubscribe()


async def test_a_message_the_server_stops_redelivering_is_dead_lettered(bus: Bus) -> None:
    event = user_created()
    async with consuming(MaxDeliveriesBackstop(bus, consumer="careless")):
        await publish_event(bus, event)

        seq = await deliver_until_the_server_gives_up(bus, "careless")

        async def dead_lettered() -> None:
            assert len(await list_dead_letters(bus)) == 1

        await eventually(dead_lettered, timeout=30)

    (letter,) = await list_dead_letters(bus)
    assert (letter.consumer, letter.subject) == ("careless", bus.names.subject("user.created"))
    assert letter.deliveries == SERVER_LIMIT
    assert "MAX_DELIVERIES" in letter.error
    assert UserCreated.model_validate_json(letter.payload) == event
    info = await bus.js.consumer_info(bus.names.stream, "careless")
    assert info.num_ack_pending == 0  # the server really gave up on it
    assert seq == 1


async def test_a_message_the_consumer_dead_lettered_too_is_kept_once(bus: Bus) -> None:
    event = user_created()
    await publish_event(bus, event)
    # The consumer's own dead letter went out, then its term() was lost (NATS blipped).
    await dead_letter(
        bus,
        consumer="careless",
        event_type=event.type,
        subject=bus.names.subject(event.type),
        data=event.to_bytes(),
        stream_seq=1,
        deliveries=SERVER_LIMIT,
        reason="RuntimeError('a bug')",
    )
    async with consuming(MaxDeliveriesBackstop(bus, consumer="careless")):
        await deliver_until_the_server_gives_up(bus, "careless")

        async def advisory_handled() -> None:
            backstop = await bus.js.consumer_info(
                f"{bus.names.stream}_ADVISORIES", "careless_backstop"
            )
            assert backstop.delivered.stream_seq == 1
            assert (backstop.num_pending, backstop.num_ack_pending) == (0, 0)

        await eventually(advisory_handled, timeout=30)

    (letter,) = await list_dead_letters(bus)
    assert letter.error == "RuntimeError('a bug')"
