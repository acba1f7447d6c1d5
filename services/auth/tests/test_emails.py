"""Emails are unique after NFKC + case folding (DESIGN §3), and odd bytes in one are a 400.

Full-width letters are written as escapes: ``FULL_WIDTH_ALICE`` is "alice" in U+FF41...
"""

from pathlib import Path
from uuid import uuid4

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from argon2 import PasswordHasher
from sqlalchemy.engine import Connection

import ticketing.auth
from ticketing.auth.app import create_app
from ticketing.auth.config import AuthSettings
from ticketing.common.db import create_migration_engine
from ticketing.testkit.http import running_app

PASSWORD = "correct horse battery"
FULL_WIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"
MIGRATIONS = Path(ticketing.auth.__file__).parent / "migrations"


def unique_domain() -> str:
    return f"example-{uuid4().hex[:8]}.com"


async def sign_up(client: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await client.post("/api/users/signup", json={"email": email, "password": PASSWORD})
    client.cookies.clear()
    return response


async def sign_in(client: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await client.post("/api/users/signin", json={"email": email, "password": PASSWORD})
    client.cookies.clear()
    return response


async def test_an_email_in_full_width_letters_is_the_same_account(
    client: httpx.AsyncClient,
) -> None:
    domain = unique_domain()
    assert (await sign_up(client, f"alice@{domain}")).status_code == 201

    again = await sign_up(client, f"{FULL_WIDTH_ALICE}@{domain.upper()}")

    assert again.status_code == 400
    assert again.json() == {"errors": [{"message": "Email in use", "field": "email"}]}


async def test_case_folding_makes_sharp_s_and_ss_one_address(client: httpx.AsyncClient) -> None:
    domain = unique_domain()
    assert (await sign_up(client, f"strasse@{domain}")).status_code == 201

    assert (await sign_up(client, f"STRAßE@{domain}")).json()["errors"][0]["message"] == (
        "Email in use"
    )


async def test_any_spelling_of_the_email_signs_in(client: httpx.AsyncClient) -> None:
    domain = unique_domain()
    user = (await sign_up(client, f"alice@{domain}")).json()

    response = await sign_in(client, f" {FULL_WIDTH_ALICE}@{domain.upper()} ")

    assert response.status_code == 200
    assert response.json() == user


async def test_a_full_width_email_is_stored_in_its_plain_form(client: httpx.AsyncClient) -> None:
    domain = unique_domain()

    response = await sign_up(client, f"{FULL_WIDTH_ALICE}@{domain}")

    assert response.json()["email"] == f"alice@{domain}"


@pytest.mark.parametrize("route", ["signup", "signin"])
@pytest.mark.parametrize("odd", ["\x00", "\x1b[31m", "\u202e", "\x7f"])
async def test_an_email_with_control_characters_is_a_400_naming_email(
    client: httpx.AsyncClient, route: str, odd: str
) -> None:
    response = await client.post(
        f"/api/users/{route}", json={"email": f"al{odd}ice@example.com", "password": PASSWORD}
    )

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["email"]


async def test_an_absurdly_long_email_at_sign_in_is_a_400(client: httpx.AsyncClient) -> None:
    response = await sign_in(client, "a" * 400 + "@example.com")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "email"


# --- the migration --------------------------------------------------------------------------


def _upgrade(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def database_at(settings: AuthSettings, revision: str, *users: str) -> None:
    """Migrate auth's database to ``revision``, then add ``users`` (emails) as they were."""
    engine = create_migration_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_upgrade, revision)
            for email in users:
                await conn.execute(
                    sa.text(
                        "INSERT INTO users (id, email, password_hash) VALUES (:id, :email, :hash)"
                    ),
                    {"id": uuid4(), "email": email, "hash": PasswordHasher().hash(PASSWORD)},
                )
            await conn.commit()
    finally:
        await engine.dispose()


async def revision_of(settings: AuthSettings) -> str | None:
    engine = create_migration_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    finally:
        await engine.dispose()


async def test_existing_users_get_their_key_and_keep_signing_in(
    auth_settings: AuthSettings,
) -> None:
    await database_at(auth_settings, "0001", "alice@example.com", "bob@example.com")

    async with running_app(create_app(auth_settings)) as client:  # migrates to head
        signed_in = await sign_in(client, f"{FULL_WIDTH_ALICE}@Example.com")
        duplicate = await sign_up(client, "BOB@example.com")

    assert signed_in.status_code == 200
    assert signed_in.json()["email"] == "alice@example.com"
    assert duplicate.json()["errors"][0]["message"] == "Email in use"


async def test_the_migration_refuses_existing_accounts_that_would_collide(
    auth_settings: AuthSettings,
) -> None:
    original, imitation = "alice@example.com", f"{FULL_WIDTH_ALICE}@example.com"
    await database_at(auth_settings, "0001", original, imitation, "bob@example.com")

    engine = create_migration_engine(auth_settings.database_url)
    try:
        async with engine.connect() as conn:
            with pytest.raises(RuntimeError, match="unique after NFKC") as refusal:
                await conn.run_sync(_upgrade, "head")
    finally:
        await engine.dispose()

    message = str(refusal.value)
    assert original in message and imitation in message and "bob@" not in message
    assert await revision_of(auth_settings) == "0001"  # nothing changed
