"""Delivery through a real SMTP relay that misbehaves for real: refusals, outages, rejections,
a slow relay while the worker stops, a worker killed between the relay's 250 and its own
record of it, and one connection serving a run of emails."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.common.events import UserCreated, UserCreatedData
from ticketing.notifications.app import create_app
from ticketing.notifications.config import NotificationsSettings
from ticketing.notifications.models import SentMail
from ticketing.testkit.embedded import free_port
from ticketing.testkit.http import eventually, running_app

if TYPE_CHECKING:
    from conftest import World


def new_user() -> UserCreated:
    return UserCreated(data=UserCreatedData(id=uuid4(), email=f"u-{uuid4().hex[:10]}@example.com"))


@pytest.mark.usefixtures("worker")
async def test_a_relay_refusing_for_a_while_delivers_once_it_accepts(world: World) -> None:
    user = new_user()
    world.relay.refuse(user.data.email, "451 4.3.0 Mailbox busy, try again later", times=4)

    await world.publish(user)

    [welcome] = await world.received(user.data.email)
    assert welcome.subject == "Welcome to Ticketing"
    mail = await eventually(lambda: world.mail_is(user.data.email, "sent"))
    assert mail.attempts == 5
    assert world.relay.rcpt_attempts(user.data.email) == 5


@pytest.mark.usefixtures("worker")
async def test_a_stopped_relay_delays_emails_until_it_is_back(world: World) -> None:
    world.relay.stop()
    user = new_user()
    await world.publish(user)

    async def retried_while_down() -> None:
        mail = await world.mail_is(user.data.email, "pending")
        assert mail.attempts >= 3, mail.attempts
        assert mail.last_error is not None and "connect" in mail.last_error

    await eventually(retried_while_down, timeout=20)
    world.relay.start()

    await world.received(user.data.email)
    await eventually(lambda: world.mail_is(user.data.email, "sent"))


@pytest.mark.usefixtures("worker")
async def test_a_rejected_recipient_is_recorded_and_never_retried(world: World) -> None:
    user = new_user()
    world.relay.refuse(user.data.email, "550 5.1.1 No such user here")

    await world.publish(user)

    mail = await eventually(lambda: world.mail_is(user.data.email, "rejected"))
    await world.settled()
    assert mail.attempts == 1
    assert mail.last_error is not None and "550" in mail.last_error
    assert world.relay.rcpt_attempts(user.data.email) == 1
    assert world.relay.messages_to(user.data.email) == []


@pytest.mark.usefixtures("worker")
async def test_a_ban_stops_an_email_still_waiting_for_the_relay(world: World) -> None:
    user = new_user()
    world.relay.refuse(user.data.email, "451 4.3.0 Try again later")
    await world.publish(user)
    await eventually(lambda: world.mail_is(user.data.email, "pending"))

    await world.ban(user)
    world.relay.accept(user.data.email)

    await eventually(lambda: world.mail_is(user.data.email, "suppressed"))
    await world.settled()
    assert world.relay.messages_to(user.data.email) == []


async def queued_behind_a_held_send(world: World, first: UserCreated, then: int) -> list[str]:
    """``first``'s email held in DATA while ``then`` more are queued; released once they are."""
    release = world.relay.hold_data(first.data.email)
    await world.publish(first)
    assert await asyncio.to_thread(world.relay.data_started.wait, 30), "DATA never started"
    others = [new_user() for _ in range(then)]
    for user in others:
        await world.publish(user)
    for user in others:
        await eventually(partial(world.mail_is, user.data.email, "pending"))
    release.set()
    return [first.data.email] + [user.data.email for user in others]


@pytest.mark.usefixtures("worker")
async def test_emails_due_one_after_another_share_one_connection(world: World) -> None:
    addresses = await queued_behind_a_held_send(world, new_user(), then=2)

    received = [(await world.received(address))[0] for address in addresses]

    assert len({message.connection for message in received}) == 1


@pytest.mark.usefixtures("worker")
async def test_a_connection_the_relay_ends_is_replaced_without_costing_an_attempt(
    world: World,
) -> None:
    world.relay.cap_messages_per_connection(1)  # 421 on the second MAIL FROM
    addresses = await queued_behind_a_held_send(world, new_user(), then=1)

    received = [(await world.received(address))[0] for address in addresses]

    assert received[0].connection != received[1].connection
    for address in addresses:
        mail = await eventually(partial(world.mail_is, address, "sent"))
        assert mail.attempts == 1


async def test_stopping_the_worker_mid_send_finishes_the_send_first(
    world: World, notifications_settings: NotificationsSettings
) -> None:
    user = new_user()
    release = world.relay.hold_data(user.data.email)
    stop = asyncio.Event()

    async def serve() -> None:
        app = create_app(notifications_settings)
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
            await stop.wait()

    serving = asyncio.create_task(serve())
    await world.publish(user)
    assert await asyncio.to_thread(world.relay.data_started.wait, 30), "DATA never started"

    stop.set()  # what SIGTERM does: the lifespan cancels the delivery loop mid-DATA
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(serving), timeout=1)  # it waits for the send
    release.set()
    await serving

    await world.mail_is(user.data.email, "sent")
    assert len(world.relay.messages_to(user.data.email)) == 1


def environment(settings: NotificationsSettings) -> dict[str, str]:
    """The settings as the NOTIFICATIONS_* environment a deployed worker reads."""
    values: dict[str, Any] = settings.model_dump(mode="json", exclude_none=True)
    return {
        f"NOTIFICATIONS_{name.upper()}": json.dumps(value)
        if isinstance(value, list)
        else str(value)
        for name, value in values.items()
    }


@pytest.fixture
def worker_process(
    notifications_settings: NotificationsSettings, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The worker as it is deployed: its own process under uvicorn, configured by environment."""
    port = free_port()
    log = (tmp_path / "worker.log").open("wb")
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "ticketing.notifications.app:create_app",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", **environment(notifications_settings)}
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()


async def test_a_crash_after_the_relays_250_does_not_resend(
    world: World,
    worker_process: tuple[subprocess.Popen[bytes], str],
    base_settings: dict[str, Any],
) -> None:
    process, url = worker_process

    async def ready() -> None:
        async with httpx.AsyncClient() as http:
            try:
                response = await http.get(f"{url}/readyz")
            except httpx.TransportError as exc:
                raise AssertionError(f"not listening yet: {exc}") from exc
        assert response.status_code == 200, response.text

    await eventually(ready, timeout=60, interval=0.2)
    user = new_user()
    release = world.relay.hold_data(user.data.email)
    await world.publish(user)
    assert await asyncio.to_thread(world.relay.data_started.wait, 30), "DATA never started"

    async with world.sessionmaker() as blocker:  # the worker's record of "sent" waits for us
        await blocker.execute(
            sa.select(SentMail.id).where(SentMail.recipient == user.data.email).with_for_update()
        )
        release.set()
        await eventually(lambda: recording_blocked(blocker), timeout=30)
        process.kill()  # between the relay's 250 and the worker's commit of it
        assert await asyncio.to_thread(process.wait, 60) == -9
        await blocker.rollback()

    assert len(world.relay.messages_to(user.data.email)) == 1
    await world.mail_is(user.data.email, "sending")  # its outcome never recorded
    restarted = create_app(
        NotificationsSettings(
            **{**_relay_settings(world, base_settings), "attempt_stale_seconds": 3.5}
        )
    )
    async with running_app(restarted):
        mail = await eventually(lambda: world.mail_is(user.data.email, "unknown"), timeout=30)
        await world.settled()
    assert len(world.relay.messages_to(user.data.email)) == 1  # not resent
    assert mail.last_error is not None and "interrupted" in mail.last_error


async def recording_blocked(blocker: AsyncSession) -> None:
    """Another session (the worker's record of the send) waits for a lock ``blocker`` holds."""
    waiting = await blocker.scalar(
        sa.text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        )
    )
    assert waiting == 1, waiting


def _relay_settings(world: World, base: dict[str, Any]) -> dict[str, Any]:
    return {
        **base,
        "smtp_host": world.relay.host,
        "smtp_port": world.relay.port,
        "smtp_security": "none",
        "smtp_timeout_seconds": 1,
        "client_base_url": "https://tickets.example.test",
        "mail_from": "Ticketing <tickets@ticketing.test>",
        "delivery_poll_seconds": 0.05,
    }
