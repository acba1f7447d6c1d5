"""How tickets reacts to other services' events: orders reserve and free tickets; bans.

Each handler runs in the consumer's unit of work (which records the event id, commits and
acks); handlers never commit. They are idempotent on their own too: reserving for the order
that already holds the ticket, or freeing it for an order that no longer holds it, changes
nothing and publishes nothing.

A ticket unknown here raises ``NotFoundError`` (retried, then dead-lettered), not
``EventOutOfOrder``: tickets is the *owner* of tickets, and orders only learns of a ticket
from the ``ticket.created`` this service publishes after committing it, so an order for an
unknown ticket can never be early; it is a real fault (lost data, a foreign namespace) that
an operator must see in the dead letters.

Both handlers lock the ticket row first (DESIGN §4 "concurrent handlers of one aggregate's
events serialise on the aggregate's row"). With two replicas, a reservation and the
cancellation of the same order may run at once. A cancellation only writes its tombstone when
the ticket is still free, so without the lock neither would see the other, and the ticket
would stay held by a cancelled order forever. With the lock, the one that commits second reads
the first one's change: the tombstone, or the reservation it then undoes. A concurrent edit
waits for the lock too and is then refused on its version check (409); it never overwrites.
"""

from ticketing.common.consumer import Subscriptions
from ticketing.common.events import OrderCancelled, OrderCreated
from ticketing.common.uow import UnitOfWork
from ticketing.common.versions import EventOutOfOrder
from ticketing.tickets import domain, repository
from ticketing.tickets.models import CancelledOrder
from ticketing.tickets.schemas import ticket_updated


async def on_order_created(event: OrderCreated, uow: UnitOfWork) -> None:
    ticket = await repository.get(uow.session, event.data.ticket.id, lock=True)
    if await uow.session.get(CancelledOrder, event.data.id) is not None:
        return  # redelivered after its own cancellation: that order holds nothing any more
    try:
        changed = domain.reserve(ticket, order_id=event.data.id)
    except domain.HeldByAnotherOrder as exc:
        # The previous order's order.cancelled is still on its way (e.g. being retried).
        raise EventOutOfOrder(str(exc)) from exc
    if changed:
        uow.publish(ticket_updated(ticket))


async def on_order_cancelled(event: OrderCancelled, uow: UnitOfWork) -> None:
    ticket = await repository.get(uow.session, event.data.ticket.id, lock=True)
    await uow.session.merge(CancelledOrder(order_id=event.data.id, ticket_id=ticket.id))
    if domain.release(ticket, order_id=event.data.id):
        uow.publish(ticket_updated(ticket))


SUBSCRIPTIONS: Subscriptions = {
    OrderCreated: on_order_created,
    OrderCancelled: on_order_cancelled,
}
