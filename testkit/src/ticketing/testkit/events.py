"""Reading and writing the bus in tests: publish an event as a service would, read what was
published, without any consumer of our own getting in the way; and the order and payment events
built as orders and payments build them, so a test of another service can play their part."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar
from uuid import UUID, uuid4

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.events import (
    Event,
    OrderCancelled,
    OrderChangedData,
    OrderCompleted,
    OrderCreated,
    OrderCreatedData,
    OrderCreatedTicket,
    OrderTicketRef,
    PaymentCreated,
    PaymentCreatedData,
    TicketUpdated,
    TicketUpdatedData,
    UserCreated,
    UserCreatedData,
)

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


def order_created(
    user_id: UUID,
    *,
    price: Decimal = Decimal("20"),
    ticket_id: UUID | None = None,
    expires_at: datetime | None = None,
    order_id: UUID | None = None,
) -> OrderCreated:
    """A new order of ``user_id``'s (a ticket of its own unless given; 15 minutes to pay
    unless ``expires_at`` says otherwise)."""
    return OrderCreated(
        data=OrderCreatedData(
            id=order_id or uuid4(),
            status="created",
            user_id=user_id,
            expires_at=expires_at or utcnow() + timedelta(minutes=15),
            version=0,
            ticket=OrderCreatedTicket(id=ticket_id or uuid4(), price=price),
        )
    )


def _changed(order: OrderCreated, version: int) -> OrderChangedData:
    return OrderChangedData(
        id=order.data.id, version=version, ticket=OrderTicketRef(id=order.data.ticket.id)
    )


def order_cancelled(
    order: OrderCreated, *, version: int = 1, occurred_at: datetime | None = None
) -> OrderCancelled:
    return OrderCancelled(data=_changed(order, version), occurred_at=occurred_at or utcnow())


def order_completed(order: OrderCreated, *, version: int = 1) -> OrderCompleted:
    return OrderCompleted(data=_changed(order, version))


def payment_created(order_id: UUID) -> PaymentCreated:
    """Payments' announcement that ``order_id`` is paid (by a charge of its own)."""
    return PaymentCreated(
        data=PaymentCreatedData(id=uuid4(), order_id=order_id, stripe_id=f"pi_{uuid4().hex[:24]}")
    )


def user_created(email: str = "someone@example.com") -> UserCreated:
    """Auth's announcement of a new user (a fresh id each call)."""
    return UserCreated(data=UserCreatedData(id=uuid4(), email=email))


def ticket_updated(ticket_id: UUID, version: int) -> TicketUpdated:
    """Tickets' announcement of version ``version`` of ``ticket_id`` (unreserved, price 20)."""
    return TicketUpdated(
        data=TicketUpdatedData(
            id=ticket_id,
            title="Concert",
            price=Decimal("20"),
            user_id=ticket_id,
            version=version,
            order_id=None,
        )
    )
