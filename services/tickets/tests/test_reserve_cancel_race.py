"""DESIGN §4 "Any number of replicas": a reservation and the cancellation of the same order,
handled at once by two replicas, serialise on the ticket row. Whichever commits second sees the
first one's change, so the ticket ends free either way and is never held by a cancelled order.
"""

import asyncio
from collections.abc import Awaitable
from uuid import UUID, uuid4

import httpx
import sqlalchemy as sa

from ticketing.common.auth import CurrentUser
from ticketing.common.contracts import TicketBody
from ticketing.common.db import outbox
from ticketing.common.service import ServiceRuntime
from ticketing.common.uow import UnitOfWork
from ticketing.testkit.events import order_cancelled, order_created
from ticketing.testkit.http import eventually
from ticketing.tickets import repository
from ticketing.tickets.config import TicketsSettings
from ticketing.tickets.listeners import on_order_cancelled, on_order_created

TicketsRuntime = ServiceRuntime[TicketsSettings, None]


async def stored(runtime: TicketsRuntime, ticket_id: UUID) -> TicketBody:
    async with runtime.unit_of_work() as uow:
        return TicketBody.model_validate(await repository.get(uow.session, ticket_id))


async def published_updates(runtime: TicketsRuntime) -> int:
    async with runtime.unit_of_work() as uow:
        query = sa.select(sa.func.count()).where(outbox.c.subject.like("%.ticket.updated"))
        return int(await uow.session.scalar(query) or 0)


async def a_transaction_waits_for_the_ticket_row(runtime: TicketsRuntime) -> None:
    async with runtime.unit_of_work() as uow:
        waiting = await uow.session.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    assert waiting == 1, "the second handler does not wait for the first"


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
    assert await published_updates(runtime) == 2


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
    assert await published_updates(runtime) == 0
