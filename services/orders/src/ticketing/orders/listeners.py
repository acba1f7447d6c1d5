"""What orders does with other services' events: keep the ticket replica in version order,
cancel expired orders, complete paid ones (``common`` records bans and revocations). Each
handler runs inside the consumer's unit of work (which commits and records the event as
processed).

``subscriptions(settings, payments)`` builds the table: the expiry handler needs the payment
grace, and which payments are still on their way (``payments_in_flight``)."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from ticketing.common.consumer import Subscriptions
from ticketing.common.contracts import utcnow
from ticketing.common.db import bound, table_of
from ticketing.common.events import (
    ExpirationComplete,
    PaymentCreated,
    TicketCreated,
    TicketUpdated,
)
from ticketing.common.uow import UnitOfWork
from ticketing.common.versions import EventOutOfOrder, should_apply
from ticketing.orders import domain, use_cases
from ticketing.orders.config import OrdersSettings
from ticketing.orders.models import Ticket
from ticketing.orders.payments_in_flight import PaymentsInFlight

logger = logging.getLogger("ticketing.orders")


# Built once, values bound per event (``common.db.bound`` says why), on the table
# (``common.db.table_of``): nothing in the session is read after them.
TICKETS = table_of(Ticket)
INSERT_TICKET = (
    insert(TICKETS)
    .values(bound(TICKETS, "id", "title", "price", "user_id", "version"))
    .on_conflict_do_nothing(index_elements=[TICKETS.c.id])
    .returning(TICKETS.c.id)
)
UPDATE_TICKET = (
    sa.update(TICKETS)
    .where(TICKETS.c.id == sa.bindparam("ticket_id"), TICKETS.c.version == sa.bindparam("previous"))
    .values(bound(TICKETS, "title", "price", "user_id", "version"))
)


async def on_ticket_created(event: TicketCreated, uow: UnitOfWork) -> None:
    ticket = event.data
    replica = {
        "id": ticket.id,
        "title": ticket.title,
        "price": ticket.price,
        "user_id": ticket.user_id,
        "version": ticket.version,
    }
    if await uow.session.scalar(INSERT_TICKET, replica) is None:
        # Already replicated: a replay of the creation, or versions after it already applied.
        await _apply_ticket(event, uow)


async def on_ticket_updated(event: TicketUpdated, uow: UnitOfWork) -> None:
    await _apply_ticket(event, uow)


async def _apply_ticket(event: TicketCreated | TicketUpdated, uow: UnitOfWork) -> None:
    ticket = event.data
    local = await uow.session.get(Ticket, ticket.id, with_for_update=True)
    if should_apply(local.version if local else None, ticket.version):
        changes = {
            "ticket_id": ticket.id,
            "previous": ticket.version - 1,
            "title": ticket.title,
            "price": ticket.price,
            "user_id": ticket.user_id,
            "version": ticket.version,
        }
        await uow.session.execute(UPDATE_TICKET, changes)
    elif local is not None and local.user_id is None:
        # Replicated before sellers were kept. A seller never changes, so any version of the
        # ticket, even an old one, may fill it in.
        local.user_id = ticket.user_id


async def on_expiration_complete(
    event: ExpirationComplete, uow: UnitOfWork, *, grace: timedelta, payments: PaymentsInFlight
) -> None:
    """Cancel the expired order, but never before ``expiresAt`` + grace by this service's
    clock (a skewed or misconfigured worker), nor while a payment for it is on the stream and
    not settled here (a replica killed holding it, an outage): until then it comes back later."""
    order = await use_cases.find_order(uow, event.data.order_id, lock=True)
    if order is None:
        logger.warning("expiration.complete for unknown order %s", event.data.order_id)
        return
    if order.status in ("complete", "cancelled"):  # paid in time, or already over
        return
    deadline = domain.cancellable_for_expiry_from(order, grace)
    if not domain.expiry_is_due(order, utcnow(), grace):
        raise EventOutOfOrder(f"order {order.id} may still be paid for until {deadline}")
    if await payments.on_its_way(order.id, deadline=deadline):
        raise EventOutOfOrder(f"a payment for order {order.id} is on its way")
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


def subscriptions(settings: OrdersSettings, payments: PaymentsInFlight) -> Subscriptions:
    grace = timedelta(seconds=settings.payment_grace_seconds)
    return {
        TicketCreated: on_ticket_created,
        TicketUpdated: on_ticket_updated,
        ExpirationComplete: partial(on_expiration_complete, grace=grace, payments=payments),
        PaymentCreated: on_payment_created,
    }
