"""make dev's mail catcher: a real SMTP server keeps every email; the gateway shows them at
/dev/mail (JSON) and /dev/mail.html, newest first, and only when make dev asks it to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from uuid import uuid4

import aiosmtplib
import httpx
import pytest

from ticketing.devstack.gateway import create_gateway
from ticketing.devstack.mailcatcher import MailStore, catching
from ticketing.devstack.stack import DevConfig, plan_processes


def email(to: str, subject: str, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "tickets@ticketing.test", to, subject
    message["Message-ID"] = f"<{uuid4().hex}@ticketing.test>"
    message.set_content(f"text of {subject}")
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


@pytest.fixture
def store(tmp_path: Path) -> MailStore:
    return MailStore(tmp_path / "mail")


@pytest.fixture
async def gateway(store: MailStore) -> AsyncIterator[httpx.AsyncClient]:
    app = create_gateway({}, mail=store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://dev"
    ) as client:
        yield client


async def send(port: int, message: EmailMessage) -> None:
    await aiosmtplib.send(message, hostname="127.0.0.1", port=port, start_tls=False)


async def test_every_caught_email_is_listed_newest_first(
    store: MailStore, gateway: httpx.AsyncClient
) -> None:
    first_sent = email("ann@example.com", "First", "<p>first</p>")
    with catching(store) as port:
        await send(port, first_sent)
        await send(port, email("bob@example.com", "Second"))

    response = await gateway.get("/dev/mail")

    assert response.status_code == 200
    messages = response.json()["messages"]
    assert [(m["to"], m["subject"]) for m in messages] == [
        (["bob@example.com"], "Second"),
        (["ann@example.com"], "First"),
    ]
    first = messages[1]
    assert (first["text"], first["html"]) == ("text of First\n", "<p>first</p>\n")
    assert first["messageId"] == first_sent["Message-ID"]
    assert first["receivedAt"].endswith("+00:00")
    assert messages[0]["html"] is None


async def test_to_filters_by_recipient_whatever_the_case(
    store: MailStore, gateway: httpx.AsyncClient
) -> None:
    with catching(store) as port:
        await send(port, email("ann@example.com", "For Ann"))
        await send(port, email("bob@example.com", "For Bob"))

    response = await gateway.get("/dev/mail", params={"to": "Ann@Example.com"})

    assert [m["subject"] for m in response.json()["messages"]] == ["For Ann"]


async def test_the_mail_page_escapes_emails_and_sandboxes_their_html(
    store: MailStore, gateway: httpx.AsyncClient
) -> None:
    with catching(store) as port:
        await send(port, email("ann@example.com", "<script>x()</script>", '<a href="/">"hi"</a>'))

    page = await gateway.get("/dev/mail.html")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<script>x()" not in page.text
    assert "&lt;script&gt;x()&lt;/script&gt;" in page.text
    assert 'sandbox title="HTML part" srcdoc="&lt;a href=&quot;/&quot;&gt;' in page.text
    assert "1 email caught by make dev" in page.text


async def test_without_a_mail_store_the_gateway_has_no_mail_pages() -> None:
    app = create_gateway({})  # how every use but make dev builds it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dev") as client:
        response = await client.get("/dev/mail")

    assert response.status_code == 404


def test_make_dev_points_notifications_at_the_catcher_and_the_gateway_at_its_mail(
    tmp_path: Path,
) -> None:
    config = DevConfig(port=8080, data_dir=tmp_path, expiration_window_seconds=900)

    processes = {
        process.name: process
        for process in plan_processes(
            config,
            database_urls={"notifications": "postgresql+asyncpg://dev/notifications"},
            nats_url="nats://127.0.0.1:4222",
            redis_url="redis://127.0.0.1:6379/0",
            keys=("private", "public"),
        )
    }

    gateway = processes["gateway"].command  # the catcher runs in the gateway's process
    port = gateway[gateway.index("--smtp-port") + 1]
    notifications = processes["notifications"].env
    assert notifications["NOTIFICATIONS_SMTP_PORT"] == port
    assert notifications["NOTIFICATIONS_SMTP_SECURITY"] == "none"
    assert notifications["NOTIFICATIONS_CLIENT_BASE_URL"] == "http://localhost:8080"
    assert processes["gateway"].env["DEVSTACK_MAIL_DIR"] == str(tmp_path / "mail")
    assert "mail" not in processes
