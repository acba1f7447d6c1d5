"""The pages' pure rules: ticket status, who may buy, time left, reading form input."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from ticketing.client import domain
from ticketing.client.forms import FormErrors, price_for_api, safe_next, sign_in_url
from ticketing.client.schemas import Order, OrderTicket, Ticket, User

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def ticket(**changes: object) -> Ticket:
    base = Ticket(id=uuid4(), title="Gig", price=Decimal("10"), user_id=uuid4(), version=0)
    return base.model_copy(update=changes)


def order(status: str = "created", expires_in: timedelta = timedelta(minutes=15)) -> Order:
    return Order.model_validate(
        {
            "id": uuid4(),
            "userId": uuid4(),
            "status": status,
            "expiresAt": NOW + expires_in,
            "version": 0,
            "ticket": OrderTicket(id=uuid4(), title="Gig", price=Decimal("10")),
        }
    )


def test_a_ticket_without_an_order_is_available_whatever_the_read_model_says() -> None:
    assert domain.ticket_status(ticket(), ticket(status="reserved")) == "available"


def test_a_reserved_ticket_is_sold_once_the_read_model_knows() -> None:
    reserved = ticket(order_id=uuid4())

    assert domain.ticket_status(reserved, None) == "reserved"
    assert domain.ticket_status(reserved, ticket(status="sold")) == "sold"


def test_the_seller_cannot_buy_their_own_ticket() -> None:
    seller = User(id=uuid4(), email="s@example.com")
    mine = ticket(user_id=seller.id)

    assert not domain.can_purchase("available", mine, seller)
    assert domain.can_purchase("available", mine, User(id=uuid4(), email="b@example.com"))
    assert not domain.can_purchase("reserved", mine, None)


@pytest.mark.parametrize(
    ("left", "shown"),
    [(timedelta(minutes=15), "15:00"), (timedelta(seconds=61.9), "01:01"), (timedelta(0), "00:00")],
)
def test_time_left_is_shown_as_minutes_and_seconds(left: timedelta, shown: str) -> None:
    assert domain.format_time_left(left) == shown


def test_an_order_past_its_window_has_no_time_left_and_cannot_be_paid() -> None:
    late = order(expires_in=timedelta(seconds=-5))

    assert domain.time_left(late, NOW) == timedelta(0)
    assert not domain.is_payable(late, NOW)
    assert domain.has_expired(late, NOW)


def test_a_complete_order_never_counts_as_expired() -> None:
    paid = order("complete", expires_in=timedelta(seconds=-5))

    assert not domain.has_expired(paid, NOW)
    assert not domain.is_payable(paid, NOW)


def test_an_order_cancelled_before_its_window_ended_is_cancelled_not_expired() -> None:
    assert not domain.has_expired(order("cancelled"), NOW)


@pytest.mark.parametrize(
    ("raw", "sent"),
    [("19.99", 19.99), ("20", 20), (" 5.5 ", 5.5), ("ten", "ten"), ("", ""), ("nan", "nan")],
)
def test_prices_are_sent_as_json_numbers_when_they_are_numbers(raw: str, sent: object) -> None:
    assert price_for_api(raw) == sent
    assert type(price_for_api(raw)) is type(sent)


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("/orders", "/orders"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        (None, "/"),
    ],
)
def test_next_is_only_ever_a_path_on_this_site(url: str | None, safe: str) -> None:
    assert safe_next(url) == safe


def test_sign_in_url_keeps_the_query_of_the_page_to_return_to() -> None:
    assert sign_in_url("/?page=2") == "/auth/signin?next=/%3Fpage%3D2"


def test_errors_about_fields_the_form_does_not_have_go_to_the_top() -> None:
    errors = FormErrors.of(
        [
            {"message": "Title must not be empty", "field": "title"},
            {"message": "Ticket is already reserved"},
            {"message": "Version is stale", "field": "version"},
        ],
        ("title", "price"),
    )

    assert errors.fields == {"title": ["Title must not be empty"]}
    assert errors.general == ["Ticket is already reserved", "Version is stale"]
