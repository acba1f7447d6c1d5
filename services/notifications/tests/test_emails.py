"""Which emails the platform's events cause, to whom, saying what; and never twice."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from ticketing.common.contracts import utcnow
from ticketing.common.events import UserCreated, UserCreatedData
from ticketing.notifications.domain import message_id

if TYPE_CHECKING:
    from notifications_testing.relay import Received

    from conftest import World

SITE = "https://tickets.example.test"
pytestmark = pytest.mark.usefixtures("worker")


def subjects(messages: list[Received]) -> list[str]:
    return sorted(m.subject for m in messages)


async def test_a_purchase_emails_welcome_reserved_receipt_and_sold(world: World) -> None:
    seller, buyer = await world.user(), await world.user()
    ticket = await world.ticket(seller, "Opera", "45.50")
    order = await world.order(buyer, ticket)
    payment = await world.payment(order)

    completed = await world.completion(order)

    to_buyer = await world.received(buyer.data.email, 3)
    to_seller = await world.received(seller.data.email, 2)
    deadline = order.data.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert subjects(to_buyer) == [
        "Receipt: Opera",
        f"Reserved: Opera (pay by {deadline})",
        "Welcome to Ticketing",
    ]
    assert subjects(to_seller) == ["Sold: Opera", "Welcome to Ticketing"]
    reserved, receipt = (
        next(m for m in to_buyer if m.subject.startswith(s)) for s in ("Res", "Rec")
    )
    order_url = f"{SITE}/orders/{order.data.id}"
    for part in (reserved.text, reserved.html):
        assert "45.50 USD" in part and deadline in part and order_url in part
    for part in (receipt.text, receipt.html):
        assert "Opera" in part and "45.50 USD" in part and payment.data.stripe_id in part
    [sold] = [m for m in to_seller if m.subject == "Sold: Opera"]
    assert "45.50 USD" in sold.text
    assert buyer.data.email not in sold.text + sold.html  # the seller is not told who bought
    assert sold.message_id == message_id(completed.id, seller.data.email, "ticketing.test")
    assert receipt.message_id == message_id(completed.id, buyer.data.email, "ticketing.test")


async def test_an_expired_order_tells_the_buyer_and_sends_no_receipt(world: World) -> None:
    seller, buyer = await world.user(), await world.user()
    ticket = await world.ticket(seller, "Match")
    order = await world.order(buyer, ticket, expires_at=utcnow() - timedelta(seconds=31))

    await world.cancellation(order)

    messages = await world.received(buyer.data.email, 3)
    deadline = order.data.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert subjects(messages) == [
        f"Reserved: Match (pay by {deadline})",
        "Welcome to Ticketing",
        "Your reservation of Match expired",
    ]
    [ended] = [m for m in messages if "reservation" in m.subject]
    assert "was not paid before" in ended.text
    assert "refunded" not in ended.text
    await world.settled()
    assert not [m for m in world.relay.messages_to(buyer.data.email) if "Receipt" in m.subject]


async def test_a_payment_that_lost_the_race_against_the_expiry_is_said_refunded(
    world: World,
) -> None:
    seller, buyer = await world.user(), await world.user()
    ticket = await world.ticket(seller, "Match")
    order = await world.order(buyer, ticket, expires_at=utcnow() - timedelta(seconds=1))
    await world.payment(order)

    await world.cancellation(order)

    messages = await world.received(buyer.data.email, 3)
    [ended] = [m for m in messages if "reservation" in m.subject]
    assert "refunded" in ended.text and "45.50 USD" in ended.text
    assert not [m for m in messages if "Receipt" in m.subject]


async def test_a_buyer_who_cancels_is_told_it_was_cancelled_not_expired(world: World) -> None:
    seller, buyer = await world.user(), await world.user()
    ticket = await world.ticket(seller, "Gig")
    order = await world.order(buyer, ticket)

    await world.cancellation(order)

    messages = await world.received(buyer.data.email, 3)
    assert "Your reservation of Gig was cancelled" in subjects(messages)


async def test_redelivered_and_replayed_events_send_nothing_twice(world: World) -> None:
    seller, buyer = await world.user(), await world.user()
    ticket = await world.ticket(seller)
    order = await world.order(buyer, ticket)
    payment = await world.payment(order)
    completed = await world.completion(order)
    await world.received(buyer.data.email, 3)
    await world.received(seller.data.email, 2)

    for event in (seller, buyer, ticket, order, payment, completed):
        await world.publish(event, again=True)
    await world.settled()

    assert len(world.relay.messages_to(buyer.data.email)) == 3
    assert len(world.relay.messages_to(seller.data.email)) == 2
    assert len(await world.mails(buyer.data.email)) == 3


async def test_a_banned_user_gets_no_email_afterwards(world: World) -> None:
    seller, buyer = await world.user(), await world.user()
    ticket = await world.ticket(seller)
    await world.received(buyer.data.email)  # the welcome, before the ban

    await world.ban(buyer)
    order = await world.order(buyer, ticket)
    await world.cancellation(order)
    await world.settled()

    assert subjects(world.relay.messages_to(buyer.data.email)) == ["Welcome to Ticketing"]
    assert [mail.template for mail in await world.mails(buyer.data.email)] == ["welcome"]


async def test_the_html_part_escapes_what_users_wrote(world: World) -> None:
    seller, buyer = await world.user(), await world.user()
    ticket = await world.ticket(seller, "Rock & <b>Roll</b>")

    await world.order(buyer, ticket)

    [reserved] = [m for m in await world.received(buyer.data.email, 2) if "Reserved" in m.subject]
    assert "Rock &amp; &lt;b&gt;Roll&lt;/b&gt;" in reserved.html
    assert "<b>Roll</b>" not in reserved.html
    assert "Rock & <b>Roll</b>" in reserved.text


async def test_a_completion_that_arrives_before_its_payment_waits_for_it(world: World) -> None:
    seller, buyer = await world.user(), await world.user()
    ticket = await world.ticket(seller)
    order = await world.order(buyer, ticket)
    await world.received(buyer.data.email, 2)

    await world.completion(order)
    payment = await world.payment(order)

    [receipt] = [m for m in await world.received(buyer.data.email, 3) if "Receipt" in m.subject]
    assert payment.data.stripe_id in receipt.text


async def test_events_older_than_a_day_send_nothing(world: World) -> None:
    """A new deployment catching up on the stream's history mails no one."""
    email = f"old-{uuid4().hex[:10]}@example.com"
    old = UserCreated(
        data=UserCreatedData(id=uuid4(), email=email), occurred_at=utcnow() - timedelta(days=2)
    )

    await world.publish(old)
    await world.settled()

    assert world.relay.messages_to(email) == []
    assert await world.mails(email) == []


async def test_the_worker_serves_only_its_probes(worker: FastAPI) -> None:
    transport = httpx.ASGITransport(app=worker)
    async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
        ready = await client.get("/readyz")

    assert ready.status_code == 200, ready.text
    assert set(worker.openapi()["paths"]) == {"/healthz", "/readyz"}
