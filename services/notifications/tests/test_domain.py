"""The rules, without I/O: who gets which email, what an SMTP answer means, when to give up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from ticketing.notifications import domain
from ticketing.notifications.domain import Recipient, Site, Verdict
from ticketing.notifications.models import Order

SITE = Site(base_url="https://tickets.example.test/", currency="eur")
DEADLINE = datetime(2026, 12, 1, 14, 5, 9, tzinfo=UTC)


def person(banned: bool = False) -> Recipient:
    return Recipient(user_id=uuid4(), email=f"{uuid4().hex[:8]}@example.com", banned=banned)


def an_order(buyer: Recipient, price: str = "19.9") -> Order:
    return Order(
        id=uuid4(),
        buyer_id=buyer.user_id,
        ticket_id=uuid4(),
        price=Decimal(price),
        expires_at=DEADLINE,
        status="created",
        version=0,
    )


def test_the_reserved_email_names_the_deadline_in_utc_and_links_the_order_page() -> None:
    buyer = person()
    order = an_order(buyer)

    [email] = domain.order_reserved(buyer, order, "Opera", SITE)

    assert email.recipient == buyer
    assert email.subject == "Reserved: Opera (pay by 2026-12-01 14:05:09 UTC)"
    assert email.context["amount"] == "19.90 EUR"
    assert email.context["order_url"] == f"https://tickets.example.test/orders/{order.id}"


def test_a_completed_order_sends_a_receipt_to_the_buyer_and_a_sold_notice_to_the_seller() -> None:
    buyer, seller = person(), person()

    emails = domain.order_completed(buyer, seller, an_order(buyer), "Opera", "pi_123", SITE)

    assert [(e.template, e.recipient) for e in emails] == [
        ("receipt", buyer),
        ("ticket_sold", seller),
    ]
    assert emails[0].context["stripe_id"] == "pi_123"


def test_a_cancellation_at_or_after_the_deadline_is_an_expiry() -> None:
    buyer = person()
    order = an_order(buyer)

    [at_deadline] = domain.reservation_ended(
        buyer, order, "Opera", cancelled_at=DEADLINE, refunded=False, site=SITE
    )
    [before] = domain.reservation_ended(
        buyer,
        order,
        "Opera",
        cancelled_at=DEADLINE - timedelta(seconds=1),
        refunded=False,
        site=SITE,
    )

    assert at_deadline.subject == "Your reservation of Opera expired"
    assert before.subject == "Your reservation of Opera was cancelled"


@pytest.mark.parametrize(("status", "ends_with_email"), [("created", True), ("complete", False)])
def test_only_an_unpaid_order_ends_with_an_email(status: str, ends_with_email: bool) -> None:
    assert domain.was_unpaid(status) is ends_with_email


def test_banned_recipients_get_nothing() -> None:
    buyer, banned_seller = person(), person(banned=True)

    emails = domain.order_completed(buyer, banned_seller, an_order(buyer), "Opera", "pi_1", SITE)

    assert [e.recipient for e in emails] == [buyer]
    assert domain.welcome(person(banned=True), SITE) == []


def test_the_message_id_is_the_same_for_the_same_event_and_recipient_only() -> None:
    event = uuid4()

    first = domain.message_id(event, "a@example.com", "ticketing.test")

    assert first == domain.message_id(event, "a@example.com", "ticketing.test")
    assert first != domain.message_id(event, "b@example.com", "ticketing.test")
    assert first != domain.message_id(uuid4(), "a@example.com", "ticketing.test")
    assert first.startswith("<") and first.endswith("@ticketing.test>")


@pytest.mark.parametrize(
    ("code", "stage", "verdict"),
    [
        (550, "recipient", Verdict.REJECT),  # no such mailbox
        (554, "data", Verdict.REJECT),  # the message refused
        (451, "recipient", Verdict.RETRY),  # try later
        (452, "data", Verdict.RETRY),
        (421, "connect", Verdict.RETRY),
        (535, "connect", Verdict.RETRY),  # our credentials are wrong: fix them, keep the email
        (550, "sender", Verdict.RETRY),  # our sender is not verified at the relay
    ],
)
def test_a_5xx_for_the_recipient_or_message_is_permanent_anything_else_is_retried(
    code: int, stage: domain.SmtpStage, verdict: Verdict
) -> None:
    assert domain.judge(code, stage) is verdict


def test_retries_back_off_and_the_last_delay_repeats() -> None:
    backoff = [1, 5, 30]

    delays = [domain.retry_delay(n, backoff).total_seconds() for n in range(1, 6)]

    assert delays == [1, 5, 30, 30, 30]


def test_an_event_is_too_old_for_email_after_the_maximum_age() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)

    assert domain.is_too_old(now - timedelta(days=2), now, timedelta(days=1))
    assert not domain.is_too_old(now - timedelta(hours=23), now, timedelta(days=1))
