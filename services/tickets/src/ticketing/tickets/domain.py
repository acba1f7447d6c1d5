"""Ticket rules, pure (no I/O): who may edit a ticket, and how orders reserve and free it.

A ticket is listed at version 0, free (``models.Ticket.listed``). Every change this service
makes to it afterwards goes through a function here, which also bumps ``version`` by one: the
version other services order their copies by. Each function returns whether it changed
anything, so a repeated command changes nothing and publishes nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

from ticketing.common.errors import BadRequestError, NotAuthorizedError

if TYPE_CHECKING:  # type hints only: the rules change rows but must not load SQLAlchemy
    from ticketing.tickets.models import Ticket

RESERVED = "Cannot edit a reserved ticket"


class HeldByAnotherOrder(Exception):  # noqa: N818 - a state, reported to the caller
    """The ticket is reserved by another order than the one trying to reserve it."""


def ensure_editable(ticket: Ticket, *, by: UUID) -> None:
    if ticket.user_id != by:
        raise NotAuthorizedError()
    if ticket.order_id is not None:
        raise BadRequestError(RESERVED)


def edit(ticket: Ticket, *, title: str, price: Decimal, by: UUID) -> bool:
    """The owner changes title and price of a free ticket; False when both are unchanged."""
    ensure_editable(ticket, by=by)
    if ticket.title == title and ticket.price == price:
        return False
    ticket.title, ticket.price = title, price
    ticket.version += 1
    return True


def reserve(ticket: Ticket, *, order_id: UUID) -> bool:
    """An order holds the ticket; False when this order already holds it.

    Orders guarantees (a database constraint) that at most one live order exists per ticket,
    so a ticket held by *another* order means that order's cancellation has not been applied
    here yet: ``HeldByAnotherOrder`` tells the caller to come back later.
    """
    if ticket.order_id == order_id:
        return False
    if ticket.order_id is not None:
        raise HeldByAnotherOrder(f"Ticket {ticket.id} is held by order {ticket.order_id}")
    ticket.order_id = order_id
    ticket.version += 1
    return True


def release(ticket: Ticket, *, order_id: UUID) -> bool:
    """A cancelled order frees the ticket; False when that order does not hold it (any more)."""
    if ticket.order_id != order_id:
        return False
    ticket.order_id = None
    ticket.version += 1
    return True
