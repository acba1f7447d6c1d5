"""Concurrency on one ticket.

Optimistic concurrency: two changes made from the same version never both win, and the loser
is told (a 409) instead of overwriting. Listeners lock the ticket row, so an edit that meets one
waits for it, then loses.

DESIGN §4 "Any number of replicas": a reservation and the cancellation of the same order,
handled at once by two replicas, serialise on the ticket row. Whichever commits second sees the
first one's change, so the ticket ends free either way and is never held by a cancelled order.
"""

import asyncio
from collections.abc import Awaitable
from decimal import Decimal
from uuid import UUID, uuid4

import httpx
import pytest
import sqlalchemy as sa

from ticketing.common.auth import CurrentUser
from ticketing.common.contracts import TicketBody
from ticketing.common.db import outbox
from ticketing.common.errors import ConflictError
from ticketing.common.service import ServiceRuntime
from ticketing.common.uow import UnitOfWork
from ticketing.testkit.events import order_cancelled, order_created
from ticketing.testkit.http import eventually
from ticketing.tickets import domain, repository
from ticketing.tickets.api import commit_checked
from ticketing.tickets.config import TicketsSettings
from ticketing.tickets.listeners import on_order_cancelled, on_order_created
from ticketing.tickets.schemas import ticket_updated

TicketsRuntime = ServiceRuntime[TicketsSettings, None]


async def stored(runtime: TicketsRuntime, ticket_id: UUID) -> TicketBody:
    async with runtime.unit_of_work() as uow:
        return TicketBody.model_validate(await repository.get(uow.session, ticket_id))


async def updates_in_outbox(runtime: TicketsRuntime) -> int:
    async with runtime.unit_of_work() as uow:
        query = sa.select(sa.func.count()).where(outbox.c.subject.like("%.ticket.updated"))
        return int(await uow.session.scalar(query) or 0)


async def test_two_edits_from_the_same_version_one_wins_the_other_conflicts(
    client: httpx.AsyncClient, seller: CurrentUser, runtime: TicketsRuntime, ticket_id: UUID
) -> None:
    async with runtime.unit_of_work() as first, runtime.unit_of_work() as second:
        mine = await repository.get(first.session, ticket_id)
        theirs = await repository.get(second.session, ticket_id)
        for uow, ticket, title in ((first, mine, "First"), (second, theirs, "Second")):
            domain.edit(ticket, title=title, price=Decimal("30"), by=seller.id)
            uow.publish(ticket_updated(ticket))

        await commit_checked(first)
        with pytest.raises(ConflictError, match="Ticket was changed concurrently, retry"):
            await commit_checked(second)

    final = await stored(runtime, ticket_id)
    assert (final.title, final.version) == ("First", 1)
    assert await updates_in_outbox(runtime) == 1  # the loser's event went nowhere


async def test_an_edit_racing_a_reservation_never_frees_the_ticket(
    client: httpx.AsyncClient, seller: CurrentUser, runtime: TicketsRuntime, ticket_id: UUID
) -> None:
    order = order_created(uuid4(), ticket_id=ticket_id)
    async with runtime.unit_of_work() as edit, runtime.unit_of_work() as reservation:
        ticket = await repository.get(edit.session, ticket_id)
        domain.edit(ticket, title="Cheaper", price=Decimal("5"), by=seller.id)  # still free here

        await on_order_created(order, reservation)
        await reservation.commit()
        with pytest.raises(ConflictError):
            await commit_checked(edit)

    final = await stored(runtime, ticket_id)
    assert (final.order_id, final.title, final.version) == (order.data.id, "Concert", 1)


async def a_transaction_waits_for_the_ticket_row(runtime: TicketsRuntime) -> None:
    async with runtime.unit_of_work() as uow:
        waiting = await uow.session.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    assert waiting == 1, "the second transaction does not wait for the first"


async def test_an_edit_during_a_reservation_waits_for_it_and_is_refused(
    client: httpx.AsyncClient, seller: CurrentUser, runtime: TicketsRuntime, ticket_id: UUID
) -> None:
    order = order_created(uuid4(), ticket_id=ticket_id)
    async with runtime.unit_of_work() as reservation:
        await on_order_created(order, reservation)  # holds the ticket row until it commits
        editing = asyncio.create_task(
            client.put(f"/api/tickets/{ticket_id}", json={"title": "Opera", "price": 35})
        )
        await eventually(lambda: a_transaction_waits_for_the_ticket_row(runtime), timeout=30)

        await reservation.commit()
        edited = await asyncio.wait_for(editing, timeout=30)

    assert edited.status_code == 409
    assert edited.json() == {"errors": [{"message": "Ticket was changed concurrently, retry"}]}
    ticket = await stored(runtime, ticket_id)
    assert (ticket.title, ticket.order_id, ticket.version) == ("Concert", order.data.id, 1)


async def test_concurrent_edits_over_http_never_lose_an_update(
    client: httpx.AsyncClient, seller: CurrentUser, runtime: TicketsRuntime, ticket_id: UUID
) -> None:
    titles = [f"Title {n}" for n in range(8)]

    responses = await asyncio.gather(
        *(
            client.put(f"/api/tickets/{ticket_id}", json={"title": title, "price": 20 + n})
            for n, title in enumerate(titles)
        )
    )

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}
    winners = [r.json() for r in responses if r.status_code == 200]
    assert winners, "at least one edit must win"
    for loser in (r for r in responses if r.status_code == 409):
        assert loser.json() == {"errors": [{"message": "Ticket was changed concurrently, retry"}]}
    final = await stored(runtime, ticket_id)
    assert final.version == len(winners) == await updates_in_outbox(runtime)
    assert sorted(w["version"] for w in winners) == list(range(1, len(winners) + 1))
    assert final.title == next(w["title"] for w in winners if w["version"] == final.version)


async def then_commit(handling: Awaitable[None], uow: UnitOfWork) -> None:
    """The rest of a replica's consumer transaction: the handler, then the commit."""
    await handling
    await uow.commit()


async def test_a_cancellation_racing_its_reservation_waits_for_it_and_frees_the_ticket(
    client: httpx.AsyncClient, seller: CurrentUser, runtime: TicketsRuntime, ticket_id: UUID
) -> None:
    order = order_created(uuid4(), ticket_id=ticket_id)
    async with runtime.unit_of_work() as reservation, runtime.unit_of_work() as cancellation:
        await on_order_created(order, reservation)  # holds the row
        cancelling = asyncio.create_task(
            then_commit(on_order_cancelled(order_cancelled(order), cancellation), cancellation)
        )
        await eventually(lambda: a_transaction_waits_for_the_ticket_row(runtime), timeout=30)

        await reservation.commit()
        await asyncio.wait_for(cancelling, timeout=30)

    ticket = await stored(runtime, ticket_id)
    assert (ticket.order_id, ticket.version) == (None, 2)  # reserved, then freed
    assert await updates_in_outbox(runtime) == 2


async def test_a_reservation_racing_its_cancellation_waits_for_it_and_reserves_nothing(
    client: httpx.AsyncClient, seller: CurrentUser, runtime: TicketsRuntime, ticket_id: UUID
) -> None:
    order = order_created(uuid4(), ticket_id=ticket_id)
    async with runtime.unit_of_work() as cancellation, runtime.unit_of_work() as reservation:
        await on_order_cancelled(order_cancelled(order), cancellation)  # holds the row
        reserving = asyncio.create_task(
            then_commit(on_order_created(order, reservation), reservation)
        )
        await eventually(lambda: a_transaction_waits_for_the_ticket_row(runtime), timeout=30)

        await cancellation.commit()
        await asyncio.wait_for(reserving, timeout=30)

    ticket = await stored(runtime, ticket_id)
    assert (ticket.order_id, ticket.version) == (None, 0)  # never held by the cancelled order
    assert await updates_in_outbox(runtime) == 0
