"""A real SMTP relay on loopback (aiosmtpd) that notifications' tests can make misbehave.

It records every message it accepts and can: refuse an address with a given reply for a number
of attempts (4xx for a while, or 5xx for ever), hold DATA until released (a slow relay),
SIGKILL a process when the SMTP session that delivered a message to an address says QUIT
(after the relay's 250, before the client can record it), and stop and start again on the same
port (connections refused meanwhile).
"""

from __future__ import annotations

import asyncio
import os
import signal
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
