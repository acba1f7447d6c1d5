"""A listing's status, derived from what is known of its ticket and orders (pure rules)."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from ticketing.query.domain import KnownOrder, last_change, listing_status

ORDER_ID = uuid4()


def test_a_ticket_without_orders_is_available() -> None:
    assert listing_status([], reserved_by=None) == "available"


@pytest.mark.parametrize("status", ["created", "awaiting:payment"])
def test_an_open_order_reserves_the_ticket(status: str) -> None:
    orders = [KnownOrder(ORDER_ID, status)]  # type: ignore[arg-type]

    assert listing_status(orders, reserved_by=None) == "reserved"


def test_the_tickets_own_order_id_reserves_it_before_the_order_is_known() -> None:
    assert listing_status([], reserved_by=ORDER_ID) == "reserved"


def test_a_cancelled_order_frees_the_ticket_even_while_it_still_names_that_order() -> None:
    orders = [KnownOrder(ORDER_ID, "cancelled")]

    assert listing_status(orders, reserved_by=ORDER_ID) == "available"
    assert listing_status(orders, reserved_by=None) == "available"


def test_a_completed_order_sells_the_ticket() -> None:
    orders = [KnownOrder(uuid4(), "cancelled"), KnownOrder(ORDER_ID, "complete")]

    assert listing_status(orders, reserved_by=ORDER_ID) == "sold"


def test_a_paid_order_sells_the_ticket_before_it_is_completed() -> None:
    assert listing_status([KnownOrder(ORDER_ID, "created", paid=True)], None) == "sold"


def test_a_payment_for_a_cancelled_order_does_not_sell_the_ticket() -> None:
    assert listing_status([KnownOrder(ORDER_ID, "cancelled", paid=True)], None) == "available"


def test_a_new_order_after_a_cancelled_one_reserves_again() -> None:
    new_order = uuid4()
    orders = [KnownOrder(ORDER_ID, "cancelled"), KnownOrder(new_order, "created")]

    assert listing_status(orders, reserved_by=new_order) == "reserved"


def test_updated_at_is_the_newest_event_time() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)

    assert last_change([start, None, start + timedelta(seconds=5)]) == start + timedelta(seconds=5)
