"""Reading and writing the bus in tests: publish an event as a service would, read what was
published, without any consumer of our own getting in the way."""

from __future__ import annotations

from typing import TypeVar

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from ticketing.common.bus import Bus
from ticketing.common.events import Event

E = TypeVar("E", bound=Event)


async def publish_event(bus: Bus, event: Event, *, msg_id: str | None = None) -> None:
    """Put ``event`` on the stream (a second call with another ``msg_id`` = a redelivery)."""
    await bus.publish(
        event.subject(bus.names.namespace), event.to_bytes(), msg_id=msg_id or str(event.id)
    )


async def last_event(bus: Bus, event_class: type[E]) -> E:
    """The newest event of that type on the stream; AssertionError (for ``eventually``) if none."""
    try:
        message = await bus.js.get_last_msg(bus.names.stream, bus.names.subject(event_class.TYPE))
    except NotFoundError as exc:
        raise AssertionError(f"no {event_class.TYPE} event on the stream yet") from exc
    return event_class.model_validate_json(message.data or b"")


async def events_of(bus: Bus, event_class: type[E]) -> list[E]:
    """Every event of that type on the stream, oldest first (an ephemeral ordered read)."""
    subject = bus.names.subject(event_class.TYPE)
    info = await bus.js.stream_info(bus.names.stream, subjects_filter=subject)
    count = (info.state.subjects or {}).get(subject, 0)
    if count == 0:
        return []
    subscription = await bus.js.pull_subscribe(
        subject,
        stream=bus.names.stream,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=5
        ),
    )
    try:
        messages = await subscription.fetch(count, timeout=5)
    finally:
        await subscription.unsubscribe()
    return [event_class.model_validate_json(m.data) for m in messages]
