"""Notifications settings (env prefix ``NOTIFICATIONS_``): the common ones plus SMTP and mail.

Any SMTP relay works by configuration alone; SendGrid's is ``smtp.sendgrid.net``, port 587,
``starttls``, username ``apikey`` and the API key as the password. In production the relay
must be reached over TLS (the password and the addresses would otherwise cross the network in
clear) and links in emails must be https.
"""

from email.utils import parseaddr
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from ticketing.common.settings import ServiceSettings

SmtpSecurity = Literal["starttls", "tls", "none"]


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore", frozen=True)

    smtp_host: str = Field(default="127.0.0.1", description="SMTP relay host")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP relay port")
    smtp_security: SmtpSecurity = Field(
        default="starttls",
        description="starttls (port 587), tls (implicit TLS, port 465) or none (local only)",
    )
    smtp_username: str | None = Field(default=None, description="SMTP login; unset: no AUTH")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password / API key")
    smtp_timeout_seconds: float = Field(default=30, gt=0, description="Per SMTP command")
    mail_from: str = Field(
        default="Ticketing <no-reply@ticketing.local>",
        description="From header and envelope sender (a verified sender at the relay)",
    )
    client_base_url: str = Field(
        default="http://localhost:8080", description="Public URL of the site, for links"
    )
    currency: str = Field(default="usd", pattern=r"^[a-z]{3}$", description="Shown with amounts")
    delivery_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often queued emails are looked for"
    )
    delivery_backoff_seconds: list[float] = Field(
        default=[5, 15, 60, 300, 900],
        description="Waits between attempts of an email the relay did not take (last repeats)",
    )
    attempt_stale_seconds: float = Field(
        default=300,
        gt=0,
        description="A send unconfirmed for this long is marked unknown (never resent)",
    )
    max_event_age_seconds: float = Field(
        default=86400,
        gt=0,
        description="Events older than this send nothing (a replay or catch-up mails no one)",
    )

    @model_validator(mode="after")
    def _refuse_unsafe_mail(self) -> "NotificationsSettings":
        if "@" not in parseaddr(self.mail_from)[1]:
            raise ValueError("mail_from must contain an email address")
        if self.attempt_stale_seconds <= 3 * self.smtp_timeout_seconds:
            raise ValueError("attempt_stale_seconds must exceed three SMTP timeouts")
        if self.environment != "production":
            return self
        if self.smtp_security == "none":
            raise ValueError("smtp_security must be starttls or tls in production")
        if not self.client_base_url.startswith("https://"):
            raise ValueError("client_base_url must be an https URL in production")
        return self

    @property
    def sender_address(self) -> str:
        return parseaddr(self.mail_from)[1]
