"""What notifications reacts to: one small handler per event, each deciding its emails.

A handler updates the replicas, asks ``domain`` which emails the event causes and queues them
(``Outgoing.queue``) in the same transaction; it never talks to SMTP (``delivery`` does), so a
mail relay outage never holds, retries or dead-letters an event. Bans (``user.banned``) are
recorded by the subscriptions every service gets from ``create_service_app``
(``common.revocation``); ``domain`` and ``delivery`` read them.
"""

from __future__ import annotations

from functools import partial

from ticketing.common.consumer import Subscriptions
from ticketing.common.events import (
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    PaymentCreated,
    TicketCreated,
    TicketUpdated,
    UserCreated,
)
from ticketing.common.uow import UnitOfWork
from ticketing.common.versions import EventOutOfOrder
from ticketing.notifications import domain, replicas
from ticketing.notifications.outgoing import Outgoing


async def on_user_created(event: UserCreated, uow: UnitOfWork, outgoing: Outgoing) -> None:
    await replicas.add_user(uow.session, event.data)
    user = await replicas.recipient(uow.session, event.data.id)
    await outgoing.queue(uow, event, domain.welcome(user, outgoing.site))


async def on_ticket_created(event: TicketCreated, uow: UnitOfWork, outgoing: Outgoing) -> None:
    await replicas.add_ticket(uow.session, event.data)


async def on_ticket_updated(event: TicketUpdated, uow: UnitOfWork, outgoing: Outgoing) -> None:
    await replicas.update_ticket(uow.session, event.data)


async def on_order_created(event: OrderCreated, uow: UnitOfWork, outgoing: Outgoing) -> None:
    order = await replicas.add_order(uow.session, event.data)
    if order is None:
        return  # already replicated: its email was queued then
    ticket = await replicas.ticket(uow.session, order.ticket_id)
    buyer = await replicas.recipient(uow.session, order.buyer_id)
    await outgoing.queue(
        uow, event, domain.order_reserved(buyer, order, ticket.title, outgoing.site)
    )


async def on_payment_created(event: PaymentCreated, uow: UnitOfWork, outgoing: Outgoing) -> None:
    await replicas.add_payment(uow.session, event.data)


async def on_order_completed(event: OrderCompleted, uow: UnitOfWork, outgoing: Outgoing) -> None:
    order = await replicas.next_order_version(uow.session, event.data)
    if order is None:
        return
    payment = await replicas.payment(uow.session, order.id)
    if payment is None:
        raise EventOutOfOrder(f"order {order.id} completed before its payment.created arrived")
    order.status, order.version = "complete", event.data.version
    ticket = await replicas.ticket(uow.session, order.ticket_id)
    buyer = await replicas.recipient(uow.session, order.buyer_id)
    seller = await replicas.recipient(uow.session, ticket.seller_id)
    emails = domain.order_completed(
        buyer, seller, order, ticket.title, payment.stripe_id, outgoing.site
    )
    await outgoing.queue(uow, event, emails)


async def on_order_cancelled(event: OrderCancelled, uow: UnitOfWork, outgoing: Outgoing) -> None:
    order = await replicas.next_order_version(uow.session, event.data)
    if order is None:
        return
    unpaid = domain.was_unpaid(order.status)
    order.status, order.version = "cancelled", event.data.version
    if not unpaid:
        return
    ticket = await replicas.ticket(uow.session, order.ticket_id)
    buyer = await replicas.recipient(uow.session, order.buyer_id)
    refunded = await replicas.payment(uow.session, order.id) is not None
    emails = domain.reservation_ended(
        buyer,
        order,
        ticket.title,
        cancelled_at=event.occurred_at,
        refunded=refunded,
        site=outgoing.site,
    )
    await outgoing.queue(uow, event, emails)


def subscriptions(outgoing: Outgoing) -> Subscriptions:
    """The events notifications consumes, each handler bound to the service's ``Outgoing``."""
    return {
        UserCreated: partial(on_user_created, outgoing=outgoing),
        TicketCreated: partial(on_ticket_created, outgoing=outgoing),
        TicketUpdated: partial(on_ticket_updated, outgoing=outgoing),
        OrderCreated: partial(on_order_created, outgoing=outgoing),
        PaymentCreated: partial(on_payment_created, outgoing=outgoing),
        OrderCompleted: partial(on_order_completed, outgoing=outgoing),
        OrderCancelled: partial(on_order_cancelled, outgoing=outgoing),
    }
