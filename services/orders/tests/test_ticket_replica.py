"""The replicated tickets: kept from ticket events, strictly in version order."""

from collections.abc import Awaitable, Callable
from decimal import Decimal
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus
from ticketing.common.events import (
    Event,
    TicketCreated,
    TicketCreatedData,
    TicketUpdated,
    TicketUpdatedData,
)
from ticketing.orders.models import Ticket
from ticketing.testkit.events import publish_event
from ticketing.testkit.http import eventually

Replica = Callable[[UUID], Awaitable[Ticket]]
Handled = Callable[[Event], Awaitable[None]]


def update(ticket: TicketCreatedData, version: int, title: str, price: str) -> TicketUpdated:
    return TicketUpdated(
        data=TicketUpdatedData(
            id=ticket.id,
            title=title,
            price=Decimal(price),
            user_id=ticket.user_id,
            version=version,
            order_id=None,
        )
    )


async def test_a_created_ticket_is_replicated(bus: Bus, replica: Replica) -> None:
    data = TicketCreatedData(
        id=uuid4(), title="Opera", price=Decimal("19.99"), user_id=uuid4(), version=0
    )

    await publish_event(bus, TicketCreated(data=data))

    ticket = await eventually(lambda: replica(data.id))
    assert (ticket.title, ticket.price, ticket.version) == ("Opera", Decimal("19.99"), 0)
    assert ticket.user_id == data.user_id  # the seller, for "Cannot buy your own ticket"


async def test_a_ticket_replicated_before_sellers_were_kept_learns_its_seller_from_any_event(
    db: async_sessionmaker[AsyncSession], bus: Bus, replica: Replica, handled: Handled
) -> None:
    legacy = Ticket(id=uuid4(), title="Old", price=Decimal("5"), user_id=None, version=1)
    async with db() as session, session.begin():
        session.add(legacy)  # as migration 0002 left it: no seller
    data = TicketCreatedData(
        id=legacy.id, title="Older", price=Decimal("4"), user_id=uuid4(), version=0
    )
    replayed = TicketCreated(data=data)  # a stale version: it changes nothing else

    await publish_event(bus, replayed)

    await handled(replayed)
    ticket = await replica(legacy.id)
    assert (ticket.user_id, ticket.title, ticket.version) == (data.user_id, "Old", 1)


async def test_updates_delivered_out_of_order_end_in_the_latest_state(
    bus: Bus, ticket: TicketCreatedData, replica: Replica, handled: Handled
) -> None:
    second, third = update(ticket, 1, "Second", "30.00"), update(ticket, 2, "Third", "45.50")

    await publish_event(bus, third)  # n+2 before n+1: nak'ed until n+1 is in
    await publish_event(bus, second)

    await handled(third)
    latest = await replica(ticket.id)
    assert (latest.title, latest.price, latest.version) == ("Third", Decimal("45.50"), 2)


async def test_an_update_for_an_unknown_ticket_waits_for_its_creation(
    bus: Bus, replica: Replica, handled: Handled
) -> None:
    created = TicketCreatedData(
        id=uuid4(), title="Ballet", price=Decimal("10"), user_id=uuid4(), version=0
    )
    renamed = update(created, 1, "Ballet (matinee)", "12.00")

    await publish_event(bus, renamed)
    await publish_event(bus, TicketCreated(data=created))

    await handled(renamed)
    ticket = await replica(created.id)
    assert (ticket.title, ticket.version) == ("Ballet (matinee)", 1)


async def test_the_same_event_twice_changes_nothing_the_second_time(
    bus: Bus, ticket: TicketCreatedData, replica: Replica, handled: Handled, deliver: Handled
) -> None:
    first = update(ticket, 1, "Renamed", "25.00")
    await deliver(first)

    await publish_event(bus, first, msg_id=f"redelivery-{uuid4()}")
    stale = update(ticket, 1, "A different v1", "99.00")  # same version, new event id
    await publish_event(bus, stale)

    await handled(stale)
    latest = await replica(ticket.id)
    assert (latest.title, latest.price, latest.version) == ("Renamed", Decimal("25.00"), 1)


async def test_a_replayed_creation_does_not_roll_back_later_updates(
    bus: Bus, ticket: TicketCreatedData, replica: Replica, handled: Handled, deliver: Handled
) -> None:
    await deliver(update(ticket, 1, "Renamed", "25.00"))

    replayed = TicketCreated(data=ticket)
    await publish_event(bus, replayed)

    await handled(replayed)
    assert (await replica(ticket.id)).title == "Renamed"
