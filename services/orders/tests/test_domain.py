"""The order rules on their own: transitions, expiry, overdue, replica ordering."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from ticketing.common.errors import BadRequestError, NotAuthorizedError
from ticketing.common.events import OrderStatus
from ticketing.orders import domain
from ticketing.orders.models import Order

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def an_order(status: OrderStatus = "created", expires_at: datetime = NOW) -> Order:
    return Order(
        id=uuid4(), user_id=uuid4(), ticket_id=uuid4(), status=status, expires_at=expires_at
    )


@pytest.mark.parametrize("status", ["created", "awaiting:payment"])
def test_an_unpaid_order_can_be_cancelled(status: OrderStatus) -> None:
    order = an_order(status)

    assert domain.cancel(order) is True
    assert order.status == "cancelled"


def test_cancelling_a_cancelled_order_changes_nothing() -> None:
    order = an_order("cancelled")

    assert domain.cancel(order) is False
    assert order.status == "cancelled"


def test_a_completed_order_cannot_be_cancelled() -> None:
    order = an_order("complete")

    with pytest.raises(BadRequestError, match="Cannot cancel a completed order"):
        domain.cancel(order)
    assert order.status == "complete"


@pytest.mark.parametrize("status", ["created", "awaiting:payment"])
def test_an_unpaid_order_can_be_completed(status: OrderStatus) -> None:
    order = an_order(status)

    assert domain.complete(order) is True
    assert order.status == "complete"


def test_completing_a_completed_order_changes_nothing() -> None:
    assert domain.complete(an_order("complete")) is False


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
