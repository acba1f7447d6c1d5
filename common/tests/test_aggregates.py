"""Which events keep their order among themselves (``aggregates.py``): the relay and the
consumer run events sharing no key at once, and those sharing one in order."""

from uuid import uuid4

from ticketing.common.aggregates import KEYED_TYPES, aggregate_keys
from ticketing.common.events import EVENT_TYPES, UserBanned, UserBannedData
from ticketing.testkit.events import (
    order_cancelled,
    order_created,
    payment_created,
    ticket_updated,
    user_created,
)


def test_every_event_type_is_keyed_by_its_aggregates() -> None:
    assert set(EVENT_TYPES) == KEYED_TYPES


def test_an_order_event_keeps_its_place_among_its_orders_and_its_tickets_events() -> None:
    order = order_created(uuid4())
    keys = {f"order:{order.data.id}", f"ticket:{order.data.ticket.id}"}

    assert aggregate_keys(order.to_bytes()) == keys
    assert aggregate_keys(order_cancelled(order).to_bytes()) == keys
    assert aggregate_keys(ticket_updated(order.data.ticket.id, 1).to_bytes()) < keys


def test_a_payment_keeps_its_place_among_its_orders_events() -> None:
    order = order_created(uuid4())

    keys = aggregate_keys(payment_created(order.data.id).to_bytes())

    assert keys == {f"order:{order.data.id}"}


def test_two_tickets_share_no_key() -> None:
    one, other = ticket_updated(uuid4(), 0), ticket_updated(uuid4(), 0)

    assert not aggregate_keys(one.to_bytes()) & aggregate_keys(other.to_bytes())


def test_a_users_sign_up_and_ban_share_the_users_key() -> None:
    signed_up = user_created()
    banned = UserBanned(data=UserBannedData(user_id=signed_up.data.id))

    assert aggregate_keys(signed_up.to_bytes()) == aggregate_keys(banned.to_bytes())


def test_an_unknown_type_keeps_its_place_among_the_events_of_its_type() -> None:
    newer = b'{"type": "ticket.renamed", "data": {"id": "x"}}'

    assert aggregate_keys(newer) == {"type:ticket.renamed"}


def test_bytes_that_are_no_event_are_in_line_with_nothing() -> None:
    assert aggregate_keys(b"{not json") == frozenset()
    assert aggregate_keys(b'["ticket.created"]') == frozenset()
