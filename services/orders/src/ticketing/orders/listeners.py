"""What orders does with other services' events: keep the ticket replica in version order,
cancel expired orders, complete paid ones, remember bans. Each handler runs inside the
consumer's unit of work (which commits and records the event as processed)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from ticketing.common.consumer import Subscriptions, should_apply
from ticketing.common.events import (
    ExpirationComplete,
    PaymentCreated,
    TicketCreated,
    TicketUpdated,
    UserBanned,
)
from ticketing.common.service import record_ban
from ticketing.common.uow import UnitOfWork
from ticketing.orders import use_cases
from ticketing.orders.models import Ticket

logger = logging.getLogger("ticketing.orders")


async def on_ticket_created(event: TicketCreated, uow: UnitOfWork) -> None:
    ticket = event.data
    statement = (
        insert(Ticket)
        .values(id=ticket.id, title=ticket.title, price=ticket.price, version=ticket.version)
        .on_conflict_do_nothing(index_elements=[Ticket.id])
        .returning(Ticket.id)
    )
    if await uow.session.scalar(statement) is None:
        # Already replicated: a replay of the creation, or versions after it already applied.
        await _apply_ticket(event, uow)


async def on_ticket_updated(event: TicketUpdated, uow: UnitOfWork) -> None:
    await _apply_ticket(event, uow)


async def _apply_ticket(event: TicketCreated | TicketUpdated, uow: UnitOfWork) -> None:
    ticket = event.data
    local = await uow.session.get(Ticket, ticket.id, with_for_update=True)
    if should_apply(local.version if local else None, ticket.version):
        await uow.session.execute(
            sa.update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.version == ticket.version - 1)
            .values(title=ticket.title, price=ticket.price, version=ticket.version)
        )


async def on_expiration_complete(event: ExpirationComplete, uow: UnitOfWork) -> None:
    order = await use_cases.find_order(uow, event.data.order_id, lock=True)
    if order is None:
        logger.warning("expiration.complete for unknown order %s", event.data.order_id)
        return
    if order.status == "complete":  # paid in time: expiry changes nothing
        return
    await use_cases.cancel_order(uow, order)


async def on_payment_created(event: PaymentCreated, uow: UnitOfWork) -> None:
    order = await use_cases.find_order(uow, event.data.order_id, lock=True)
    if order is None:
        logger.warning("payment.created for unknown order %s", event.data.order_id)
        return
    if order.status == "cancelled":
        # Cancelled before the payment landed: the payments service refunds it.
        logger.warning("payment %s arrived for cancelled order %s", event.data.id, order.id)
        return
    await use_cases.complete_order(uow, order)


SUBSCRIPTIONS: Subscriptions = {
    TicketCreated: on_ticket_created,
    TicketUpdated: on_ticket_updated,
    ExpirationComplete: on_expiration_complete,
    PaymentCreated: on_payment_created,
    UserBanned: record_ban,
}
