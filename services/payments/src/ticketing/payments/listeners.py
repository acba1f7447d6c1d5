"""What payments learns from the bus: the orders it may charge for, and banned users.

The order replica follows the orders service's versions: ``order.created`` inserts version 0,
``order.cancelled`` / ``order.completed`` apply version n+1 only on top of n.
"""

from __future__ import annotations

import logging

from sqlalchemy.dialects.postgresql import insert

from ticketing.common.consumer import Subscriptions
from ticketing.common.db import bound, table_of
from ticketing.common.events import OrderCancelled, OrderCompleted, OrderCreated
from ticketing.common.uow import UnitOfWork
from ticketing.common.versions import EventOutOfOrder, should_apply
from ticketing.payments import domain
from ticketing.payments.models import Order
from ticketing.payments.refunds import owe_refund
from ticketing.payments.settlement import recorded_payment

logger = logging.getLogger("ticketing.payments")


ORDERS = table_of(Order)  # the writes go to the table (``common.db.table_of`` says why)
INSERT_ORDER = (  # built once, values bound per event (``common.db.bound`` says why)
    insert(ORDERS)
    .values(bound(ORDERS, "id", "user_id", "status", "price", "version", "expires_at"))
    .on_conflict_do_nothing(index_elements=[ORDERS.c.id])
)


async def on_order_created(event: OrderCreated, uow: UnitOfWork) -> None:
    data = event.data
    order = {
        "id": data.id,
        "user_id": data.user_id,
        "status": data.status,
        "price": data.ticket.price,
        "version": data.version,
        "expires_at": data.expires_at,
    }
    await uow.session.execute(INSERT_ORDER, order)


async def _next_version_of(event: OrderCancelled | OrderCompleted, uow: UnitOfWork) -> Order | None:
    """The order to change, locked; None when this version is already applied."""
    order = await uow.session.get(Order, event.data.id, with_for_update=True)
    if order is None:
        raise EventOutOfOrder()  # order.created has not arrived yet
    return order if should_apply(order.version, event.data.version) else None


async def on_order_cancelled(event: OrderCancelled, uow: UnitOfWork) -> None:
    order = await _next_version_of(event, uow)
    if order is None:
        return
    order.status, order.version = domain.CANCELLED, event.data.version
    if (payment := await recorded_payment(uow, order.id)) is not None:
        # The order expired in orders while this charge was being recorded here: the buyer
        # does not get the ticket, so they get their money back.
        await owe_refund(
            uow.session,
            intent_id=payment.stripe_id,
            order_id=order.id,
            reason="order cancelled after its payment",
        )


async def on_order_completed(event: OrderCompleted, uow: UnitOfWork) -> None:
    order = await _next_version_of(event, uow)
    if order is not None:
        order.status, order.version = domain.COMPLETE, event.data.version


SUBSCRIPTIONS: Subscriptions = {
    OrderCreated: on_order_created,
    OrderCancelled: on_order_cancelled,
    OrderCompleted: on_order_completed,
}
