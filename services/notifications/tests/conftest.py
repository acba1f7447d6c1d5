"""Notifications' test fixtures: a real SMTP relay on loopback that tests can make misbehave
(``notifications_testing.relay``), the worker, and ``World``: events published as the other
services would, and what they became."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import uuid4

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from notifications_testing.relay import Received, Relay
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus
from ticketing.common.db import banned_users, create_engine, create_sessionmaker
from ticketing.common.events import (
    Event,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    PaymentCreated,
    TicketCreated,
    TicketCreatedData,
    UserBanned,
    UserBannedData,
    UserCreated,
)
from ticketing.notifications.app import create_app
from ticketing.notifications.config import NotificationsSettings
from ticketing.notifications.models import SentMail
from ticketing.testkit.events import (
    order_cancelled,
    order_completed,
    order_created,
    payment_created,
    publish_event,
    user_created,
)
from ticketing.testkit.http import eventually, running_app

SITE = "https://tickets.example.test"
E = TypeVar("E", bound=Event)


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = Relay()
    relay.start()
    yield relay
    relay.stop()


def settings_for(base: dict[str, Any], relay: Relay, **overrides: Any) -> NotificationsSettings:
    return NotificationsSettings(
        **{
            **base,
            "smtp_host": relay.host,
            "smtp_port": relay.port,
            "smtp_security": "none",
            "smtp_timeout_seconds": 10,
            "client_base_url": SITE,
            "mail_from": "Ticketing <tickets@ticketing.test>",
            "delivery_poll_seconds": 0.05,
            "delivery_backoff_seconds": [0.05, 0.1, 0.2],
            **overrides,
        }
    )


@pytest.fixture
async def base_settings(
    service_settings: Callable[[str], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """The common test settings with a fresh database (shared by every worker of a test)."""
    return await service_settings("notifications")


@pytest.fixture
def notifications_settings(base_settings: dict[str, Any], relay: Relay) -> NotificationsSettings:
    return settings_for(base_settings, relay)


@pytest.fixture
async def worker(notifications_settings: NotificationsSettings) -> AsyncIterator[FastAPI]:
    """The notifications worker, running in this process."""
    app = create_app(notifications_settings)
    async with running_app(app):
        yield app


@pytest.fixture
async def world(
    bus: Bus, relay: Relay, notifications_settings: NotificationsSettings
) -> AsyncIterator[World]:
    engine = create_engine(notifications_settings.database_url, pool_size=2)
    yield World(bus, relay, create_sessionmaker(engine))
    await engine.dispose()


@dataclass
class World:
    """Events as the other services would publish them, and what became of them."""

    bus: Bus
    relay: Relay
    sessionmaker: async_sessionmaker[AsyncSession]

    async def publish(self, event: E, *, again: bool = False) -> E:
        """``again``: the same event once more under another Nats-Msg-Id (a redelivery or a
        replay the bus does not deduplicate)."""
        await publish_event(self.bus, event, msg_id=f"{event.id}:{uuid4()}" if again else None)
        return event

    async def user(self, email: str | None = None) -> UserCreated:
        email = email or f"user-{uuid4().hex[:10]}@example.com"
        return await self.publish(user_created(email))

    async def ticket(
        self, seller: UserCreated, title: str = "Opera", price: str = "45.50"
    ) -> TicketCreated:
        data = TicketCreatedData(
            id=uuid4(), title=title, price=Decimal(price), user_id=seller.data.id, version=0
        )
        return await self.publish(TicketCreated(data=data))

    async def order(
        self, buyer: UserCreated, ticket: TicketCreated, *, expires_at: datetime | None = None
    ) -> OrderCreated:
        data = ticket.data
        return await self.publish(
            order_created(buyer.data.id, price=data.price, ticket_id=data.id, expires_at=expires_at)
        )

    async def payment(self, order: OrderCreated) -> PaymentCreated:
        return await self.publish(payment_created(order.data.id))

    async def completion(self, order: OrderCreated) -> OrderCompleted:
        return await self.publish(order_completed(order))

    async def cancellation(
        self, order: OrderCreated, *, at: datetime | None = None
    ) -> OrderCancelled:
        return await self.publish(order_cancelled(order, occurred_at=at))

    async def ban(self, user: UserCreated) -> None:
        """Ban the user, once notifications has recorded it."""
        await self.publish(UserBanned(data=UserBannedData(user_id=user.data.id)))

        async def recorded() -> None:
            async with self.sessionmaker() as session:
                found = await session.scalar(
                    sa.select(banned_users.c.user_id).where(banned_users.c.user_id == user.data.id)
                )
            assert found is not None, "ban not recorded yet"

        await eventually(recorded)

    async def mails(self, recipient: str) -> list[SentMail]:
        async with self.sessionmaker() as session:
            rows = await session.scalars(
                sa.select(SentMail)
                .where(SentMail.recipient == recipient)
                .order_by(SentMail.created_at)
            )
            return list(rows)

    async def mail_is(self, recipient: str, status: str) -> SentMail:
        mails = await self.mails(recipient)
        assert len(mails) == 1, f"{len(mails)} emails to {recipient}"
        mail = mails[0]
        assert mail.status == status, (mail.status, mail.last_error)
        return mail

    async def received(self, address: str, count: int = 1) -> list[Received]:
        """Wait until the relay holds ``count`` messages to ``address`` (not fewer, not more)."""

        async def check() -> list[Received]:
            messages = self.relay.messages_to(address)
            assert len(messages) == count, [m.subject for m in messages]
            return messages

        return await eventually(check, timeout=20)

    async def settled(self) -> None:
        """Everything published so far has been handled and every due email attempted: a
        marker user is published last, and its welcome (queued last) is delivered."""
        marker = await self.user()
        await self.received(marker.data.email)
