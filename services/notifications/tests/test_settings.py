"""Notifications refuses unsafe mail settings: plain SMTP or http links in production."""

from typing import Any

import pytest
from pydantic import ValidationError

from ticketing.common.auth import KeyPair
from ticketing.notifications.config import NotificationsSettings


def settings(jwt_keys: KeyPair, **mail: Any) -> NotificationsSettings:
    return NotificationsSettings(
        **{
            "environment": "production",
            "cookie_secure": True,
            "database_url": "postgresql+asyncpg://notifications@db/notifications",
            "jwt_public_key": jwt_keys.public_pem,
            "client_base_url": "https://ticketing.example.com",
            **mail,
        }
    )


def test_production_refuses_smtp_without_tls(jwt_keys: KeyPair) -> None:
    with pytest.raises(ValidationError, match="smtp_security"):
        settings(jwt_keys, smtp_security="none")


def test_production_refuses_http_links(jwt_keys: KeyPair) -> None:
    with pytest.raises(ValidationError, match="https"):
        settings(jwt_keys, client_base_url="http://ticketing.example.com")


def test_a_sender_without_an_address_is_refused(jwt_keys: KeyPair) -> None:
    with pytest.raises(ValidationError, match="mail_from"):
        settings(jwt_keys, mail_from="Ticketing")


def test_a_send_is_not_declared_lost_before_it_could_have_timed_out(jwt_keys: KeyPair) -> None:
    with pytest.raises(ValidationError, match="attempt_stale_seconds"):
        settings(jwt_keys, smtp_timeout_seconds=30, attempt_stale_seconds=60)


def test_sendgrid_is_configuration_alone(jwt_keys: KeyPair) -> None:
    sendgrid = settings(
        jwt_keys,
        smtp_host="smtp.sendgrid.net",
        smtp_port=587,
        smtp_username="apikey",
        smtp_password="SG.secret",
        mail_from="Ticketing <tickets@ticketing.example.com>",
    )

    assert (sendgrid.smtp_security, sendgrid.sender_address) == (
        "starttls",
        "tickets@ticketing.example.com",
    )
    assert "SG.secret" not in repr(sendgrid)
