"""Orders request and response bodies, and the events built from an order."""

from uuid import UUID

from ticketing.common import events
from ticketing.common.contracts import ApiModel, OrderBody, Price
from ticketing.orders.models import Order


class OrderIn(ApiModel):
    ticket_id: UUID


class OrderTicketOut(ApiModel):
    id: UUID
    title: str
    price: Price


class OrderOut(OrderBody):
    ticket: OrderTicketOut


def order_created(order: Order) -> events.OrderCreated:
    return events.OrderCreated(
        data=events.OrderCreatedData(
            id=order.id,
            status=order.status,
            user_id=order.user_id,
            expires_at=order.expires_at,
            version=order.version,
            ticket=events.OrderCreatedTicket(id=order.ticket.id, price=order.ticket.price),
        )
    )


def _changed(order: Order) -> events.OrderChangedData:
    return events.OrderChangedData(
        id=order.id, version=order.version, ticket=events.OrderTicketRef(id=order.ticket_id)
    )


def order_cancelled(order: Order) -> events.OrderCancelled:
    return events.OrderCancelled(data=_changed(order))


def order_completed(order: Order) -> events.OrderCompleted:
    return events.OrderCompleted(data=_changed(order))
