"""The emails a purchase causes, end to end: the real services publish, the notifications
worker sends over SMTP to make dev's mail catcher (a real SMTP server on loopback), and the
test reads what the catcher received."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from asgi_lifespan import LifespanManager

from ticketing.devstack.mailcatcher import MailStore, Message, catching
from ticketing.notifications.app import create_app
from ticketing.notifications.config import NotificationsSettings
from ticketing.testkit.http import eventually

if TYPE_CHECKING:
    from platform_testing import Browser, Platform

SITE = "http://testserver"


@pytest.fixture
async def mailbox(
    platform: Platform,
    service_settings: Callable[[str], Awaitable[dict[str, Any]]],
    tmp_path: Path,
) -> AsyncIterator[MailStore]:
    """The notifications worker on the platform's bus, sending to a mail catcher."""
    store = MailStore(tmp_path / "mail")
    with catching(store) as port:
        settings = NotificationsSettings(
            **await service_settings("notifications"),
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
            client_base_url=SITE,
            delivery_poll_seconds=0.05,
        )
        async with LifespanManager(create_app(settings), startup_timeout=60, shutdown_timeout=30):
            yield store


async def mail_to(mailbox: MailStore, person: Browser, count: int) -> list[Message]:
    async def check() -> list[Message]:
        messages = mailbox.messages(to=person.email)
        assert len(messages) == count, [m["subject"] for m in messages]
        return messages

    return await eventually(check, timeout=30)


async def settled(platform: Platform, mailbox: MailStore) -> None:
    """Every email caused so far was sent: a user who signs up last gets the last welcome."""
    await mail_to(mailbox, await platform.sign_up(), 1)


def by_subject(messages: list[Message], start: str) -> Message:
    [message] = [m for m in messages if m["subject"].startswith(start)]
    return message


async def test_a_purchase_emails_welcomes_reservation_receipt_and_sold_notice(
    platform: Platform, mailbox: MailStore
) -> None:
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    ticket = await seller.sell("Opera", "45.50")
    order = await buyer.order_once_orderable(ticket["id"])

    async def pay() -> None:
        response = await buyer.pay(order["id"], "tok_visa")
        assert response.status_code == 201, response.text  # 404 until payments has the order

    await eventually(pay)
    await eventually(lambda: buyer.order_status_is(order["id"], "complete"))
    await settled(platform, mailbox)

    to_buyer, to_seller = await mail_to(mailbox, buyer, 3), await mail_to(mailbox, seller, 2)
    deadline = datetime.fromisoformat(order["expiresAt"]).astimezone(UTC)
    utc = deadline.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert sorted(m["subject"] for m in to_buyer) == [
        "Receipt: Opera",
        f"Reserved: Opera (pay by {utc})",
        "Welcome to Ticketing",
    ]
    assert sorted(m["subject"] for m in to_seller) == ["Sold: Opera", "Welcome to Ticketing"]
    reserved = by_subject(to_buyer, "Reserved")
    assert utc in reserved["text"] and f"{SITE}/orders/{order['id']}" in reserved["text"]
    [payment] = await platform.payments_of(order["id"])
    receipt = by_subject(to_buyer, "Receipt")
    for part in (receipt["text"], receipt["html"]):
        assert "45.50 USD" in part and payment.stripe_id in part and "Opera" in part
    assert "45.50 USD" in by_subject(to_seller, "Sold")["text"]
    session = buyer.http.cookies.get("session")
    everything = " ".join(f"{m['text']} {m['html']}" for m in to_buyer + to_seller)
    assert session and session not in everything  # no session, token or card in any email
    assert "tok_visa" not in everything


@pytest.mark.platform(expiration_window_seconds=2, expiration_worker=True)
async def test_an_expired_order_emails_the_expiry_and_no_receipt(
    platform: Platform, mailbox: MailStore
) -> None:
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    ticket = await seller.sell("Match")

    order = await buyer.order_once_orderable(ticket["id"])

    await eventually(lambda: buyer.order_status_is(order["id"], "cancelled"), timeout=15)
    await settled(platform, mailbox)
    subjects = sorted(m["subject"] for m in await mail_to(mailbox, buyer, 3))
    assert subjects[1:] == ["Welcome to Ticketing", "Your reservation of Match expired"]
    assert subjects[0].startswith("Reserved: Match")
    assert [m["subject"] for m in mailbox.messages(to=seller.email)] == ["Welcome to Ticketing"]
