"""A real SMTP relay on loopback (aiosmtpd) that notifications' tests can make misbehave.

It records every message it accepts (and how many connections delivered them) and can: refuse
an address with a given reply for a number of attempts (4xx for a while, or 5xx for ever), hold
DATA until released (a slow relay), and stop and start again on the same port (connections
refused meanwhile).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller

from ticketing.testkit.embedded import free_port


@dataclass(frozen=True)
class Received:
    to: list[str]
    message: EmailMessage
    connection: int  # which SMTP connection delivered it, numbered from 1

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
        self.holds: dict[str, threading.Event] = {}
        self.data_started = threading.Event()
        self.messages_per_connection: int | None = None  # None: no cap
        self._numbers = itertools.count(1)

    def _number(self, session: Any) -> int:
        if not hasattr(session, "number"):
            session.number = next(self._numbers)
        number: int = session.number
        return number

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        """Accepts the sender, unless this connection delivered its cap of messages (421)."""
        number = self._number(session)
        delivered = sum(1 for m in self.received if m.connection == number)
        if self.messages_per_connection is not None and delivered >= self.messages_per_connection:
            return "421 4.7.0 Too many messages on this connection"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

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
        self.received.append(Received(list(envelope.rcpt_tos), message, self._number(session)))
        return "250 2.0.0 Message accepted"


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

    def cap_messages_per_connection(self, count: int) -> None:
        """Refuse MAIL FROM with 421 on a connection that already delivered ``count`` messages."""
        self._handler.messages_per_connection = count
