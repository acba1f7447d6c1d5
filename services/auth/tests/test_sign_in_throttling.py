"""Sign-in throttling (DESIGN §3): 5 failures per email or 50 per client address in 15 minutes,
then 429 with Retry-After whatever the password; shared by every replica."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import uuid4

import httpx
import sqlalchemy as sa

from ticketing.auth.config import AuthSettings
from ticketing.auth.models import SignInAttempt
from ticketing.auth.throttle import forget_old_attempts
from ticketing.common.db import create_migration_engine, create_sessionmaker
from ticketing.testkit.http import eventually, new_client_like

if TYPE_CHECKING:
    from conftest import AuthApp

PASSWORD = "correct horse battery"
WRONG = "wrong password"
TOO_MANY = {"errors": [{"message": "Too many sign-in attempts, try again later"}]}


def new_email() -> str:
    return f"user-{uuid4().hex[:8]}@example.com"


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str, *, forwarded_for: str | None = None
) -> httpx.Response:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    response = await client.post(
        "/api/users/signin", json={"email": email, "password": password}, headers=headers
    )
    client.cookies.clear()
    return response


async def signed_up(client: httpx.AsyncClient) -> str:
    email = new_email()
    response = await client.post("/api/users/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    client.cookies.clear()
    return email


async def fail(client: httpx.AsyncClient, email: str, times: int, **kwargs: str) -> None:
    for _ in range(times):
        response = await sign_in(client, email, WRONG, **kwargs)
        assert response.status_code == 400, response.text


async def test_after_five_failures_even_the_right_password_is_refused(
    client: httpx.AsyncClient,
) -> None:
    email = await signed_up(client)
    await fail(client, email, 5)

    refused = await sign_in(client, email, PASSWORD)

    assert refused.status_code == 429
    assert refused.json() == TOO_MANY
    assert 880 <= int(refused.headers["retry-after"]) <= 900  # the oldest failure ages out
    assert "set-cookie" not in refused.headers


async def test_failures_count_per_email_however_it_is_spelt(client: httpx.AsyncClient) -> None:
    email = await signed_up(client)
    local, domain = email.split("@")
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in local)
    spellings = [email.upper(), f"  {email} ", f"{full_width}@{domain.upper()}", email, email]

    for spelling in spellings:
        assert (await sign_in(client, spelling, WRONG)).status_code == 400

    assert (await sign_in(client, email, PASSWORD)).status_code == 429


async def test_a_successful_sign_in_clears_the_emails_count(client: httpx.AsyncClient) -> None:
    email = await signed_up(client)
    await fail(client, email, 4)
    assert (await sign_in(client, email, PASSWORD)).status_code == 200

    await fail(client, email, 5)  # five more failures: the count had started again

    assert (await sign_in(client, email, PASSWORD)).status_code == 429


async def test_a_refused_attempt_is_not_a_failure_and_the_block_ends_with_the_window(
    auth_app: AuthApp,
) -> None:
    async with auth_app(sign_in_window_seconds=3) as client:
        email = await signed_up(client)
        await fail(client, email, 5)
        refused = [await sign_in(client, email, WRONG) for _ in range(3)]
        assert {r.status_code for r in refused} == {429}
        assert 1 <= int(refused[0].headers["retry-after"]) <= 3

        async def allowed_again() -> None:
            assert (await sign_in(client, email, PASSWORD)).status_code == 200

        await eventually(allowed_again, timeout=10, interval=0.5)


async def test_fifty_failures_from_one_address_block_every_email(
    client: httpx.AsyncClient,
) -> None:
    email = await signed_up(client)
    for _ in range(50):
        assert (await sign_in(client, new_email(), WRONG)).status_code == 400

    refused = await sign_in(client, email, PASSWORD)

    assert refused.status_code == 429
    assert refused.json() == TOO_MANY


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(auth_app: AuthApp) -> None:
    async with auth_app(sign_in_max_failures_per_client=3) as client:
        for hop in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
            await fail(client, new_email(), 1, forwarded_for=hop)

        refused = await sign_in(client, new_email(), WRONG, forwarded_for="203.0.113.4")

    assert refused.status_code == 429  # all four came from the same peer


async def test_behind_a_trusted_proxy_the_first_forwarded_hop_is_the_client(
    auth_app: AuthApp,
) -> None:
    async with auth_app(sign_in_max_failures_per_client=3, trust_forwarded_for=True) as client:
        await fail(client, new_email(), 3, forwarded_for="203.0.113.7, 10.0.0.1")

        same_client = await sign_in(client, new_email(), WRONG, forwarded_for="203.0.113.7")
        other_client = await sign_in(
            client, new_email(), WRONG, forwarded_for="198.51.100.9, 203.0.113.7"
        )

    assert same_client.status_code == 429
    assert other_client.status_code == 400


async def test_two_replicas_share_the_counts(auth_app: AuthApp) -> None:
    async with auth_app() as first, auth_app() as second:
        email = await signed_up(first)
        await fail(first, email, 3)
        await fail(second, email, 2)

        refused_by_first = await sign_in(first, email, PASSWORD)
        refused_by_second = await sign_in(second, email, PASSWORD)

    assert refused_by_first.status_code == refused_by_second.status_code == 429


async def test_simultaneous_guesses_get_no_more_password_checks_than_the_limit(
    client: httpx.AsyncClient,
) -> None:
    email = await signed_up(client)
    browsers = [new_client_like(client) for _ in range(12)]

    async def guess(browser: httpx.AsyncClient) -> int:
        async with browser:
            return (await sign_in(browser, email, WRONG)).status_code

    statuses = await asyncio.gather(*(guess(browser) for browser in browsers))

    assert set(statuses) <= {400, 429}
    assert statuses.count(400) == 5  # five password checks, seven refusals
    assert (await sign_in(client, email, PASSWORD)).status_code == 429


async def test_attempts_older_than_the_window_are_pruned(
    client: httpx.AsyncClient, auth_settings: AuthSettings
) -> None:
    engine = create_migration_engine(auth_settings.database_url)  # migrated by ``client``
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session, session.begin():
            old = sa.func.now() - timedelta(minutes=20)
            session.add_all(
                [
                    SignInAttempt(
                        email_key="old@example.com", client="192.0.2.1", attempted_at=old
                    ),
                    SignInAttempt(email_key="new@example.com", client="192.0.2.1"),
                ]
            )

        pruned = await forget_old_attempts(sessionmaker, timedelta(minutes=15))

        async with sessionmaker() as session:
            left = (await session.scalars(sa.select(SignInAttempt.email_key))).all()
    finally:
        await engine.dispose()
    assert pruned == 1
    assert left == ["new@example.com"]
