"""Emails decided by a handler become ``sent_mail`` rows in the handler's own transaction.

So the email and the event's idempotency record commit together: a redelivered or replayed
event queues nothing new (the consumer skips a processed event id, and the unique (event,
recipient) pair refuses a second row anyway), and a rolled-back handler queues nothing.
Rendering happens here, once: the row holds exactly what is sent, on every attempt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.dialects.postgresql import insert

from ticketing.common.contracts import utcnow
from ticketing.common.events import Event
from ticketing.common.uow import UnitOfWork
from ticketing.notifications import domain
from ticketing.notifications.config import NotificationsSettings
from ticketing.notifications.models import SentMail

logger = logging.getLogger("ticketing.notifications")

TEMPLATES_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


class Renderer:
    """The Jinja2 templates: ``<name>.txt`` (plain text) and ``<name>.html`` (escaped)."""

    def __init__(self, directory: Path = TEMPLATES_DIR) -> None:
        self._env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,  # a missing value is a bug, not an empty string
            keep_trailing_newline=True,
            auto_reload=False,  # packaged templates: no stat of both files for every email
        )

    def render(self, email: domain.Email) -> RenderedMail:
        context = dict(email.context)
        return RenderedMail(
            subject=email.subject,
            text=self._env.get_template(f"{email.template}.txt").render(context),
            html=self._env.get_template(f"{email.template}.html").render(context),
        )


class Outgoing:
    """What the listeners need to turn decisions into queued emails."""

    def __init__(self, settings: NotificationsSettings, renderer: Renderer | None = None) -> None:
        self.site = domain.Site(base_url=settings.client_base_url, currency=settings.currency)
        self._domain = settings.sender_address.rsplit("@", 1)[1]
        self._max_age = timedelta(seconds=settings.max_event_age_seconds)
        self._renderer = renderer or Renderer()

    async def queue(self, uow: UnitOfWork, event: Event, emails: list[domain.Email]) -> None:
        if not emails:
            return
        if domain.is_too_old(event.occurred_at, utcnow(), self._max_age):
            logger.info(
                "Not emailing about %s %s: it happened at %s, too long ago",
                event.type,
                event.id,
                event.occurred_at.isoformat(),
            )
            return
        rows = [self._row(event, email) for email in emails]
        statement = insert(SentMail).values(rows)
        await uow.session.execute(
            statement.on_conflict_do_nothing(constraint="sent_mail_one_per_event_recipient")
        )

    def _row(self, event: Event, email: domain.Email) -> dict[str, object]:
        rendered = self._renderer.render(email)
        address = email.recipient.email
        return {
            "event_id": event.id,
            "recipient": address,
            "user_id": email.recipient.user_id,
            "template": email.template,
            "message_id": domain.message_id(event.id, address, self._domain),
            "subject": rendered.subject,
            "text_body": rendered.text,
            "html_body": rendered.html,
            "status": "pending",
            "attempts": 0,
        }
