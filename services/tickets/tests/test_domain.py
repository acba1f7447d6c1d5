"""The ticket rules on plain objects: no database, no bus."""

from decimal import Decimal
from uuid import uuid4

import pytest

from ticketing.common.errors import BadRequestError, NotAuthorizedError
from ticketing.tickets import domain
from ticketing.tickets.models import Ticket

SELLER = uuid4()


def new_ticket() -> Ticket:
    return Ticket.listed(title="Concert", price=Decimal("20.00"), seller=SELLER)


def test_a_listed_ticket_is_free_at_version_zero() -> None:
    ticket = new_ticket()

    assert (ticket.user_id, ticket.version, ticket.order_id) == (SELLER, 0, None)


def test_the_owner_edits_a_free_ticket_and_the_version_goes_up() -> None:
    ticket = new_ticket()

    changed = domain.edit(ticket, title="Opera", price=Decimal("35.50"), by=SELLER)

    assert changed
    assert (ticket.title, ticket.price, ticket.version) == ("Opera", Decimal("35.50"), 1)


def test_an_edit_that_changes_nothing_keeps_the_version() -> None:
    ticket = new_ticket()

    changed = domain.edit(ticket, title="Concert", price=Decimal("20"), by=SELLER)

    assert not changed
    assert ticket.version == 0


def test_only_the_owner_may_edit_a_ticket() -> None:
    ticket = new_ticket()

    with pytest.raises(NotAuthorizedError):
        domain.edit(ticket, title="Mine now", price=Decimal("1"), by=uuid4())
    assert (ticket.title, ticket.version) == ("Concert", 0)


def test_cannot_edit_a_reserved_ticket() -> None:
    ticket = new_ticket()
    domain.reserve(ticket, order_id=uuid4())

    with pytest.raises(BadRequestError, match="Cannot edit a reserved ticket"):
        domain.edit(ticket, title="Opera", price=Decimal("35"), by=SELLER)


def test_an_order_reserves_a_free_ticket_once() -> None:
    ticket, order_id = new_ticket(), uuid4()

    first = domain.reserve(ticket, order_id=order_id)
    second = domain.reserve(ticket, order_id=order_id)

    assert (first, second) == (True, False)
    assert (ticket.order_id, ticket.version) == (order_id, 1)


def test_a_ticket_held_by_another_order_is_not_taken_over() -> None:
    ticket, holder = new_ticket(), uuid4()
    domain.reserve(ticket, order_id=holder)

    with pytest.raises(domain.HeldByAnotherOrder):
        domain.reserve(ticket, order_id=uuid4())
    assert (ticket.order_id, ticket.version) == (holder, 1)


def test_cancelling_the_holding_order_frees_the_ticket() -> None:
    ticket, order_id = new_ticket(), uuid4()
    domain.reserve(ticket, order_id=order_id)

    changed = domain.release(ticket, order_id=order_id)

    assert changed
    assert (ticket.order_id, ticket.version) == (None, 2)


def test_cancelling_an_order_that_does_not_hold_the_ticket_changes_nothing() -> None:
    ticket, holder = new_ticket(), uuid4()
    domain.reserve(ticket, order_id=holder)

    changed = domain.release(ticket, order_id=uuid4())

    assert not changed
    assert (ticket.order_id, ticket.version) == (holder, 1)
