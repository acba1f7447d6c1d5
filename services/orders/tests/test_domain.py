"""The order rules on their own: who may order, transitions, expiry, overdue."""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from ticketing.common.errors import BadRequestError, NotAuthorizedError
from ticketing.common.events import OrderStatus
from ticketing.orders import domain
from ticketing.orders.models import Order, Ticket

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
BUYER = uuid4()


def an_order(status: OrderStatus = "created", expires_at: datetime = NOW) -> Order:
    return Order(
        id=uuid4(), user_id=uuid4(), ticket_id=uuid4(), status=status, expires_at=expires_at
    )


# The two ways an order ends, and the status each leaves it in.
ENDINGS = pytest.mark.parametrize(
    ("end", "ended"),
    [(domain.cancel, "cancelled"), (domain.complete, "complete")],
    ids=["cancel", "complete"],
)


@ENDINGS
@pytest.mark.parametrize("status", ["created", "awaiting:payment"])
def test_an_unpaid_order_can_be_cancelled_or_completed(
    end: Callable[[Order], bool], ended: OrderStatus, status: OrderStatus
) -> None:
    order = an_order(status)

    assert end(order) is True
    assert order.status == ended


@ENDINGS
def test_ending_an_order_the_way_it_already_ended_changes_nothing(
    end: Callable[[Order], bool], ended: OrderStatus
) -> None:
    order = an_order(ended)

    assert end(order) is False
    assert order.status == ended


def test_a_completed_order_cannot_be_cancelled() -> None:
    order = an_order("complete")

    with pytest.raises(BadRequestError, match="Cannot cancel a completed order"):
        domain.cancel(order)
    assert order.status == "complete"


def test_a_cancelled_order_cannot_be_completed() -> None:
    order = an_order("cancelled")

    with pytest.raises(BadRequestError):
        domain.complete(order)
    assert order.status == "cancelled"


def test_an_order_expires_one_window_after_it_is_placed() -> None:
    assert domain.expiry_for(NOW, timedelta(minutes=15)) == NOW + timedelta(minutes=15)


def test_only_the_owner_passes_the_ownership_check() -> None:
    order = an_order()

    domain.ensure_owner(order, order.user_id)
    with pytest.raises(NotAuthorizedError):
        domain.ensure_owner(order, uuid4())


@pytest.mark.parametrize(
    ("status", "expired_for", "overdue"),
    [
        ("created", timedelta(seconds=61), True),
        ("created", timedelta(seconds=60), False),
        ("created", timedelta(seconds=-5), False),
        ("cancelled", timedelta(hours=1), False),
        ("complete", timedelta(hours=1), False),
    ],
)
def test_an_order_is_overdue_only_while_created_and_past_expiry_plus_grace(
    status: OrderStatus, expired_for: timedelta, overdue: bool
) -> None:
    order = an_order(status, expires_at=NOW - expired_for)

    assert domain.is_overdue(order, NOW, timedelta(seconds=60)) is overdue


def a_ticket(seller: UUID | None = None) -> Ticket:
    return Ticket(id=uuid4(), title="Concert", price=Decimal("20"), user_id=seller, version=0)


def a_request(**facts: Any) -> domain.OrderRequest:
    known: dict[str, Any] = {
        "ticket": a_ticket(seller=uuid4()),
        "buyer": uuid4(),
        "seller_banned": False,
        "reserved": False,
        "unpaid_orders": 0,
    }
    return domain.OrderRequest(**(known | facts))


def test_a_free_ticket_of_another_seller_can_be_ordered() -> None:
    domain.ensure_orderable(a_request(unpaid_orders=4), max_unpaid_orders=5)


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"ticket": a_ticket(seller=BUYER)}, "Cannot buy your own ticket"),
        ({"seller_banned": True}, "Ticket is not for sale"),
        ({"reserved": True}, "Ticket is already reserved"),
        ({"unpaid_orders": 5}, "Too many unpaid orders"),
        ({"unpaid_orders": 6}, "Too many unpaid orders"),
    ],
)
def test_an_order_is_refused_for_each_rule(facts: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        domain.ensure_orderable(a_request(buyer=BUYER, **facts), max_unpaid_orders=5)


def refusal_of(request: domain.OrderRequest) -> str:
    with pytest.raises(BadRequestError) as refusal:
        domain.ensure_orderable(request, max_unpaid_orders=5)
    return str(refusal.value.serialize_errors()[0]["message"])


def test_the_first_rule_that_applies_answers() -> None:
    all_wrong = a_request(
        ticket=a_ticket(seller=BUYER),
        buyer=BUYER,
        seller_banned=True,
        reserved=True,
        unpaid_orders=9,
    )
    not_own = replace(all_wrong, ticket=a_ticket(seller=uuid4()))
    seller_in_good_standing = replace(not_own, seller_banned=False)
    free = replace(seller_in_good_standing, reserved=False)

    answers = [refusal_of(r) for r in (all_wrong, not_own, seller_in_good_standing, free)]

    assert answers == [
        "Cannot buy your own ticket",
        "Ticket is not for sale",
        "Ticket is already reserved",
        "Too many unpaid orders",
    ]


def test_a_ticket_whose_seller_is_not_known_yet_is_not_taken_for_the_buyers_own() -> None:
    domain.ensure_orderable(a_request(ticket=a_ticket(seller=None)), max_unpaid_orders=5)


@pytest.mark.parametrize(
    ("since_expiry", "due"),
    [
        (timedelta(seconds=-1), False),
        (timedelta(seconds=0), False),
        (timedelta(seconds=29), False),
        (timedelta(seconds=30), False),
        (timedelta(seconds=30.001), True),
    ],
)
def test_expiry_is_due_only_after_expires_at_plus_the_payment_grace(
    since_expiry: timedelta, due: bool
) -> None:
    order = an_order(expires_at=NOW)

    assert domain.expiry_is_due(order, NOW + since_expiry, timedelta(seconds=30)) is due
    assert domain.cancellable_for_expiry_from(order, timedelta(seconds=30)) == NOW + timedelta(
        seconds=30
    )
