"""Sending the queued emails (``sent_mail`` rows): each one at most once, and nearly always
exactly once. How, and what it costs:

1. A ``pending`` row is claimed with ``FOR UPDATE SKIP LOCKED`` (replicas split the work) in a
   transaction that stays open while we run MAIL FROM / RCPT TO (on the connection the previous
   email used, or a new one). A failure or a crash there changes nothing durable: the row
   stays ``pending`` and is retried.
2. Just before DATA the row becomes ``sending``, committed. Then a definite answer decides:
   ``250`` -> ``sent``; 4xx -> ``pending`` again, retried with backoff (the relay did not take
   it); 5xx -> ``rejected``, logged, never retried.
3. The one window SMTP cannot close: no answer after DATA (lost connection, timeout), or a
   crash between the relay's ``250`` and our commit of ``sent``. The relay may have accepted
   the email and there is no way to ask it. Such a row is never resent: it is marked
   ``unknown`` (at once, or after ``attempt_stale_seconds`` when the process died) and logged.

So this window is at-most-once (the email may be lost) rather than at-least-once (it may come
twice). A second receipt or "ticket sold" notice is a visible error to a customer, a lost one a
missing convenience (the order page says the same), and the window is one round trip wide. To
prefer at-least-once, requeue ``unknown`` rows: the Message-ID, derived from (event,
recipient), lets mail systems recognise the copy.

A send in flight when the worker is asked to stop (SIGTERM, a rolling deploy) is finished
first, so a deploy does not turn emails into ``unknown`` ones. A relay outage of any length
only delays emails: they wait in the table, the event consumer is never involved.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.contracts import utcnow
from ticketing.common.db import banned_users
from ticketing.common.service import ServiceRuntime
from ticketing.notifications import domain
from ticketing.notifications.config import NotificationsSettings
from ticketing.notifications.mailer import Mailer, MailSession, SmtpError, build_message
from ticketing.notifications.metrics import MailMetrics
from ticketing.notifications.models import (
    PENDING,
    REJECTED,
    SENDING,
    SENT,
    SUPPRESSED,
    UNKNOWN,
    SentMail,
)

logger = logging.getLogger("ticketing.notifications")

T = TypeVar("T")


# The next due email, claimed (replicas split the work), and whether its recipient is banned:
# checked again at sending time, so a ban stops emails queued before it too.
_NEXT_DUE = (
    sa.select(
        SentMail,
        sa.exists().where(banned_users.c.user_id == SentMail.user_id).label("banned"),
    )
    .where(SentMail.status == PENDING, SentMail.next_attempt_at <= sa.func.now())
    .order_by(SentMail.next_attempt_at, SentMail.created_at)
    .limit(1)
    .with_for_update(of=SentMail, skip_locked=True)
)


class Delivery:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        mailer: Mailer,
        metrics: MailMetrics,
        settings: NotificationsSettings,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._mailer = mailer
        self._metrics = metrics
        self._poll = settings.delivery_poll_seconds
        self._backoff = settings.delivery_backoff_seconds
        self._stale_after = timedelta(seconds=settings.attempt_stale_seconds)

    async def run(self) -> None:
        while True:
            await self.give_up_on_interrupted_sends()
            try:
                while await self.deliver_next():
                    pass
            except BaseException:
                self._mailer.drop()
                raise
            await self._mailer.hang_up()  # no connection is held open while nothing is due
            await asyncio.sleep(self._poll)

    async def deliver_next(self) -> bool:
        """Attempt the next due email; False when none is due."""
        async with self._sessionmaker() as session:
            claimed = (await session.execute(_NEXT_DUE)).first()
            if claimed is None:
                return False
            mail, banned = claimed
            mail.attempts += 1
            if banned:
                await self._finish(session, mail, SUPPRESSED, "the recipient is banned")
                return True
            try:
                smtp = await self._mailer.envelope(mail.recipient)
            except SmtpError as exc:
                await self._refused(session, mail, exc)
                return True
            mail.status, mail.attempted_at = SENDING, utcnow()
            await session.commit()  # from here on, an interruption means "unknown"
            await finish_even_if_cancelled(self._transfer(session, smtp, mail))
            return True

    async def _transfer(self, session: AsyncSession, smtp: MailSession, mail: SentMail) -> None:
        try:
            await smtp.data(build_message(mail, self._mailer.mail_from))
        except SmtpError as exc:
            await self._mailer.hang_up()
            if exc.code is None:  # no answer: it may or may not have been accepted
                await self._finish(session, mail, UNKNOWN, str(exc))
            else:
                await self._refused(session, mail, exc)
            return
        await self._finish(session, mail, SENT, None)  # the session stays open for the next

    async def _refused(self, session: AsyncSession, mail: SentMail, exc: SmtpError) -> None:
        """A definite "not taken": rejected for good (5xx for it), or retried later."""
        verdict = domain.judge(exc.code, exc.stage) if exc.code else domain.Verdict.RETRY
        if verdict is domain.Verdict.REJECT:
            await self._finish(session, mail, REJECTED, str(exc))
            return
        delay = domain.retry_delay(mail.attempts, self._backoff)
        mail.status, mail.last_error, mail.next_attempt_at = PENDING, str(exc), utcnow() + delay
        await session.commit()
        self._metrics.count("failed", mail.template)
        log = logger.error if exc.stage in ("connect", "sender") and exc.code else logger.warning
        log(
            "Email %s (%s, event %s) not taken, attempt %d; retrying in %.1fs: %s",
            mail.id, mail.template, mail.event_id, mail.attempts, delay.total_seconds(), exc,
        )  # fmt: skip

    async def _finish(
        self, session: AsyncSession, mail: SentMail, status: str, error: str | None
    ) -> None:
        mail.status, mail.last_error, mail.finished_at = status, error, utcnow()
        await session.commit()
        self._metrics.count(status, mail.template)
        log = {REJECTED: logger.warning, UNKNOWN: logger.error}.get(status, logger.info)
        log(
            "Email %s (%s, event %s) %s after %d attempt(s)%s",
            mail.id, mail.template, mail.event_id, status, mail.attempts,
            f": {error}" if error else "",
        )  # fmt: skip

    async def give_up_on_interrupted_sends(self) -> None:
        """Sends left ``sending`` by a process that died: possibly delivered, so not resent."""
        async with self._sessionmaker() as session:
            rows = await session.execute(
                sa.update(SentMail)
                .where(
                    SentMail.status == SENDING,
                    SentMail.attempted_at < sa.func.now() - self._stale_after,
                )
                .values(
                    status=UNKNOWN,
                    finished_at=sa.func.now(),
                    last_error="interrupted between DATA and recording its outcome",
                )
                .returning(SentMail.id, SentMail.template, SentMail.event_id)
            )
            interrupted = rows.all()
            await session.commit()
        for mail_id, template, event_id in interrupted:
            self._metrics.count(UNKNOWN, template)
            logger.error(
                "Email %s (%s, event %s) was interrupted after DATA: it may have been "
                "delivered; marked unknown and not resent",
                mail_id,
                template,
                event_id,
            )


async def finish_even_if_cancelled(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end even if we are cancelled meanwhile, then honour the cancel.

    For the part of a send that must not be cut: once DATA starts, stopping half-way would
    leave an email whose fate nobody knows. It is bounded by the SMTP timeouts."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
        except Exception:
            break  # the work's own failure, raised by task.result() below
    if cancelled:
        if not task.cancelled() and (failure := task.exception()) is not None:
            logger.error("Finishing a send before stopping failed", exc_info=failure)
        raise asyncio.CancelledError()
    return task.result()


async def deliver_mail(runtime: ServiceRuntime[NotificationsSettings, MailMetrics]) -> None:
    """The service's background loop (supervised: a crash is logged and the loop restarted).
    The service's context is its counts of what happened to emails."""
    settings = runtime.settings
    delivery = Delivery(runtime.sessionmaker, Mailer(settings), runtime.context, settings)
    await delivery.run()
