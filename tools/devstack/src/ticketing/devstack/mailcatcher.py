"""The ``make dev`` mail catcher: a local SMTP server (aiosmtpd) that keeps every email.

The notifications worker sends to it instead of a real relay; each message becomes one JSON
file in ``<data dir>/mail/`` (written whole, then renamed, so a reader never sees half of it),
which the gateway serves at ``/dev/mail`` and ``/dev/mail.html``. ``make dev`` runs the
catcher in the gateway's process (``gateway --smtp-port``); the store is a directory so that
mail survives a restart like the rest of the dev data. Development only: nothing in Kubernetes
runs it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from uuid import uuid4

from aiosmtpd.controller import Controller

from ticketing.common.contracts import utcnow
from ticketing.testkit.embedded import free_port

Message = dict[str, Any]


class MailStore:
    """Caught emails, newest first, as the ``/dev/mail`` JSON shows them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def save(self, recipients: list[str], raw: bytes) -> Message:
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        message: Message = {
            "id": uuid4().hex,
            "to": recipients,
            "from": str(parsed["From"] or ""),
            "subject": str(parsed["Subject"] or "").strip(),  # unfolded, as mail clients show it
            "text": _part(parsed, "plain"),
            "html": _part(parsed, "html"),
            "messageId": str(parsed["Message-ID"] or ""),
            "receivedAt": utcnow().isoformat(),
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{message['id']}.json"
        partial = self.directory / f".{name}.tmp"
        partial.write_text(json.dumps(message))
        partial.rename(self.directory / name)
        return message

    def messages(self, to: str | None = None, limit: int = 200) -> list[Message]:
        """Newest first; ``to``: only those with that recipient (case-insensitive)."""
        if not self.directory.is_dir():
            return []
        wanted = to.strip().casefold() if to else None
        found: list[Message] = []
        for path in sorted(self.directory.glob("*.json"), reverse=True):
            message: Message = json.loads(path.read_text())
            if wanted is None or wanted in (r.casefold() for r in message["to"]):
                found.append(message)
            if len(found) == limit:
                break
        return found


def _part(message: EmailMessage, subtype: str) -> str | None:
    body = message.get_body(preferencelist=(subtype,))
    if body is None:
        return None
    content: str = body.get_content()
    return content.replace("\r\n", "\n")


class CatchingHandler:
    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        self.store.save(list(envelope.rcpt_tos), content)
        return "250 2.0.0 Message accepted (caught by make dev)"


@contextmanager
def catching(store: MailStore, port: int | None = None) -> Iterator[int]:
    """Run the catcher on 127.0.0.1 (a free port unless given); yields the port."""
    port = port or free_port()
    controller = Controller(CatchingHandler(store), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
