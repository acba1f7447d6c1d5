"""Notifications' test fixtures: a real SMTP relay on loopback that tests can make misbehave,
the worker, and ``World``: events published as the other services would, and what they became.

The relay (aiosmtpd) records every message it accepts and can: refuse an address with a given
reply for a number of attempts (4xx for a while, or 5xx for ever), hold DATA until released (a
slow relay), SIGKILL a process when the SMTP session that delivered a message to an address
says QUIT (after the relay's 250, before the client can record it), and stop and start again
on the same port (connections refused meanwhile).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.db import banned_users, create_engine, create_sessionmaker
from ticketing.common.events import (
    Event,
    OrderCancelled,
    OrderChangedData,
    OrderCompleted,
    OrderCreated,
    OrderCreatedData,
    OrderCreatedTicket,
    OrderTicketRef,
    PaymentCreated,
    PaymentCreatedData,
    TicketCreated,
    TicketCreatedData,
    UserBanned,
    UserBannedData,
    UserCreated,
    UserCreatedData,
)
from ticketing.notifications.app import create_app
from ticketing.notifications.config import NotificationsSettings
from ticketing.notifications.models import SentMail
from ticketing.testkit.embedded import free_port
from ticketing.testkit.events import publish_event
from ticketing.testkit.http import eventually, running_app

SITE = "https://tickets.example.test"


@dataclass(frozen=True)
class Received:
    to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"]).strip()  # a folded header keeps its leading space

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        content: str = body.get_content()  # type: ignore[attr-defined]
        return content

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")


class _Handler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.rcpt_attempts: Counter[str] = Counter()
        self.refusals: dict[str, list[Any]] = {}  # address -> [reply, remaining or None]
        self.kill_after: dict[str, int] = {}  # address -> pid
        self.holds: dict[str, threading.Event] = {}
        self.data_started = threading.Event()
        self._kill_on_quit: dict[int, int] = {}  # id(session) -> pid

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.rcpt_attempts[address] += 1
        refusal = self.refusals.get(address)
        if refusal is not None and refusal[1] != 0:
            if refusal[1] is not None:
                refusal[1] -= 1
            reply: str = refusal[0]
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        for address in envelope.rcpt_tos:
            if (hold := self.holds.get(address)) is not None:
                self.data_started.set()
                await asyncio.to_thread(hold.wait)
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(list(envelope.rcpt_tos), message))
        for address in envelope.rcpt_tos:
            if address in self.kill_after:
                self._kill_on_quit[id(session)] = self.kill_after.pop(address)
        return "250 2.0.0 Message accepted"

    async def handle_QUIT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        pid = self._kill_on_quit.pop(id(session), None)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)  # the client has the 250 and waits for this reply
        return "221 2.0.0 Bye"


class Relay:
    def __init__(self) -> None:
        self.host, self.port = "127.0.0.1", free_port()
        self._handler = _Handler()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self._handler, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages_to(self, address: str) -> list[Received]:
        return [m for m in self._handler.received if address in m.to]

    def rcpt_attempts(self, address: str) -> int:
        return self._handler.rcpt_attempts[address]

    def refuse(self, address: str, reply: str, *, times: int | None = None) -> None:
        """Answer RCPT TO for ``address`` with ``reply``, ``times`` times (None: always)."""
        self._handler.refusals[address] = [reply, times]

    def accept(self, address: str) -> None:
        self._handler.refusals.pop(address, None)

    def hold_data(self, address: str) -> threading.Event:
        """DATA for ``address`` waits until the returned event is set."""
        release = self._handler.holds[address] = threading.Event()
        return release

    @property
    def data_started(self) -> threading.Event:
        return self._handler.data_started

    def kill_after_accepting(self, address: str, pid: int) -> None:
        """SIGKILL ``pid`` on the QUIT that follows accepting a message to ``address``."""
        self._handler.kill_after[address] = pid


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

    async def publish(self, event: Event, *, again: bool = False) -> Event:
        """``again``: the same event once more under another Nats-Msg-Id (a redelivery or a
        replay the bus does not deduplicate)."""
        await publish_event(self.bus, event, msg_id=f"{event.id}:{uuid4()}" if again else None)
        return event

    async def user(self, email: str | None = None) -> UserCreated:
        email = email or f"user-{uuid4().hex[:10]}@example.com"
        event = UserCreated(data=UserCreatedData(id=uuid4(), email=email))
        await self.publish(event)
        return event

    async def ticket(
        self, seller: UserCreated, title: str = "Opera", price: str = "45.50"
    ) -> TicketCreated:
        data = TicketCreatedData(
            id=uuid4(), title=title, price=Decimal(price), user_id=seller.data.id, version=0
        )
        event = TicketCreated(data=data)
        await self.publish(event)
        return event

    async def order(
        self, buyer: UserCreated, ticket: TicketCreated, *, expires_at: datetime | None = None
    ) -> OrderCreated:
        data = OrderCreatedData(
            id=uuid4(),
            status="created",
            user_id=buyer.data.id,
            expires_at=expires_at or utcnow() + timedelta(minutes=15),
            version=0,
            ticket=OrderCreatedTicket(id=ticket.data.id, price=ticket.data.price),
        )
        event = OrderCreated(data=data)
        await self.publish(event)
        return event

    async def payment(self, order: OrderCreated) -> PaymentCreated:
        data = PaymentCreatedData(
            id=uuid4(), order_id=order.data.id, stripe_id=f"pi_{uuid4().hex[:24]}"
        )
        event = PaymentCreated(data=data)
        await self.publish(event)
        return event

    async def completion(self, order: OrderCreated) -> OrderCompleted:
        event = OrderCompleted(data=_changed(order))
        await self.publish(event)
        return event

    async def cancellation(
        self, order: OrderCreated, *, at: datetime | None = None
    ) -> OrderCancelled:
        event = OrderCancelled(data=_changed(order), occurred_at=at or utcnow())
        await self.publish(event)
        return event

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


def _changed(order: OrderCreated, version: int = 1) -> OrderChangedData:
    return OrderChangedData(
        id=order.data.id, version=version, ticket=OrderTicketRef(id=order.data.ticket.id)
    )
