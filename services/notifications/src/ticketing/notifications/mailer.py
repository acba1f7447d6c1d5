"""The SMTP edge: one connection for a run of emails due one after another, through any relay
the settings name.

``Mailer.envelope()`` runs MAIL FROM and RCPT TO on the connection it holds, or on a new one
(implicit TLS, STARTTLS or plain; AUTH when a username is set); ``MailSession.data()``
transfers the message; ``Mailer.hang_up()`` ends the session (QUIT) when no email is due, or
after a failure (connecting, EHLO and QUIT for every email were a quarter of our SMTP CPU, and
a sixth of the ``make dev`` catcher's). Every failure is an ``SmtpError`` saying at which
stage it happened and with which reply code (None when no reply came: refused connection,
timeout, lost connection), because the stage decides what the failure means (``domain.judge``).
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from ticketing.notifications.config import NotificationsSettings
from ticketing.notifications.domain import SmtpStage
from ticketing.notifications.models import SentMail


class SmtpError(Exception):
    def __init__(self, stage: SmtpStage, code: int | None, message: str) -> None:
        super().__init__(f"SMTP {stage}: {code or 'no reply'} {message}".strip())
        self.stage, self.code, self.message = stage, code, message


def build_message(mail: SentMail, mail_from: str) -> EmailMessage:
    """The MIME message: text and HTML alternatives, and the Message-ID of (event, recipient)."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = mail.message_id
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    return message


class MailSession:
    def __init__(self, smtp: aiosmtplib.SMTP, sender: str) -> None:
        self._smtp = smtp
        self._sender = sender
        self._utf8 = False

    async def envelope(self, recipient: str) -> None:
        self._utf8 = not recipient.isascii()
        if self._utf8 and not self._smtp.supports_extension("smtputf8"):
            raise SmtpError("recipient", 553, "address needs SMTPUTF8, the relay lacks it")
        options, encoding = (["SMTPUTF8"], "utf-8") if self._utf8 else ([], "ascii")
        try:
            await self._smtp.mail(self._sender, options=options)
            await self._smtp.rcpt(recipient, encoding=encoding)
        except aiosmtplib.SMTPSenderRefused as exc:
            raise SmtpError("sender", exc.code, exc.message) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SmtpError("recipient", exc.code, exc.message) from exc
        except aiosmtplib.SMTPException as exc:
            raise SmtpError("recipient", None, str(exc)) from exc

    async def data(self, message: EmailMessage) -> None:
        wire_policy = policy.SMTPUTF8 if self._utf8 else policy.SMTP
        try:
            await self._smtp.data(message.as_bytes(policy=wire_policy))
        except aiosmtplib.SMTPResponseException as exc:
            raise SmtpError("data", exc.code, exc.message) from exc
        except aiosmtplib.SMTPException as exc:
            raise SmtpError("data", None, str(exc)) from exc

    async def quit(self) -> None:
        """End the session politely; its outcome is already known, so a failing QUIT is not."""
        try:
            await self._smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            pass
        finally:
            self._smtp.close()

    def close(self) -> None:
        self._smtp.close()


class Mailer:
    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings
        self._held: MailSession | None = None

    async def envelope(self, recipient: str) -> MailSession:
        """A session that took MAIL FROM and RCPT TO for ``recipient``: the held one, or new.

        A held connection the relay closed meanwhile (no reply, or 421: an idle timeout, a cap
        on messages per connection) is replaced once, so it costs the email no attempt. After
        any other failure the session is ended, as a refused transaction leaves it."""
        held = self._held
        if held is not None:
            try:
                await held.envelope(recipient)
                return held
            except SmtpError as exc:
                await self.hang_up()
                if exc.code not in (None, 421):
                    raise
        smtp = self._held = await self._connect()
        try:
            await smtp.envelope(recipient)
        except SmtpError:
            await self.hang_up()
            raise
        return smtp

    async def hang_up(self) -> None:
        """QUIT the held session, if any."""
        held, self._held = self._held, None
        if held is not None:
            await held.quit()

    def drop(self) -> None:
        """Close the held session without QUIT (we are being stopped or crashed)."""
        held, self._held = self._held, None
        if held is not None:
            held.close()

    @property
    def mail_from(self) -> str:
        return self._settings.mail_from

    def _client(self) -> aiosmtplib.SMTP:
        settings = self._settings
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            use_tls=settings.smtp_security == "tls",
            start_tls=settings.smtp_security == "starttls",
            username=settings.smtp_username,
            password=password if settings.smtp_username else None,
            timeout=settings.smtp_timeout_seconds,
        )

    async def _connect(self) -> MailSession:
        smtp = self._client()
        try:
            await smtp.connect()
        except aiosmtplib.SMTPResponseException as exc:
            raise SmtpError("connect", exc.code, exc.message) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SmtpError("connect", None, str(exc) or type(exc).__name__) from exc
        return MailSession(smtp, self._settings.sender_address)
