"""How passwords are kept: argon2id at OWASP's parameters, rehashed when outdated, and never
hashed when they cannot be a password at all."""

import json
from uuid import uuid4

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from ticketing.auth.config import AuthSettings
from ticketing.auth.models import User
from ticketing.common.db import create_migration_engine
from ticketing.testkit.http import assert_refused

PASSWORD = "correct horse battery"
OWASP_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"


def new_email() -> str:
    return f"user-{uuid4().hex[:8]}@example.com"


async def stored_hash(
    settings: AuthSettings, email: str, *, replace_with: str | None = None
) -> str:
    engine = create_migration_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            if replace_with is not None:
                await conn.execute(
                    sa.update(User).where(User.email == email).values(password_hash=replace_with)
                )
            found = await conn.scalar(sa.select(User.password_hash).where(User.email == email))
    finally:
        await engine.dispose()
    assert isinstance(found, str)
    return found


async def test_a_new_password_is_hashed_with_argon2id_at_owasp_parameters(
    client: httpx.AsyncClient, auth_settings: AuthSettings
) -> None:
    email = new_email()

    await client.post("/api/users/signup", json={"email": email, "password": PASSWORD})

    assert (await stored_hash(auth_settings, email)).startswith(OWASP_PREFIX)


async def test_an_outdated_hash_is_replaced_at_the_next_sign_in(
    client: httpx.AsyncClient, auth_settings: AuthSettings
) -> None:
    email = new_email()
    await client.post("/api/users/signup", json={"email": email, "password": PASSWORD})
    old_profile = PasswordHasher()  # argon2-cffi's default: 64 MiB, t=3, p=4
    await stored_hash(auth_settings, email, replace_with=old_profile.hash(PASSWORD))

    response = await client.post("/api/users/signin", json={"email": email, "password": PASSWORD})

    assert response.status_code == 200
    assert (await stored_hash(auth_settings, email)).startswith(OWASP_PREFIX)


@pytest.mark.parametrize("route", ["signup", "signin"])
async def test_a_password_over_128_characters_is_refused_before_hashing(
    client: httpx.AsyncClient, route: str
) -> None:
    response = await client.post(
        f"/api/users/{route}", json={"email": new_email(), "password": "x" * 500_000}
    )

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {"message": "Password must be between 8 and 128 characters", "field": "password"}
        ]
    }


async def test_a_ten_megabyte_password_is_refused_unread(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/users/signin", json={"email": new_email(), "password": "x" * 10_000_000}
    )

    assert_refused(response, 413, "Request body is too large")


@pytest.mark.parametrize("route", ["signup", "signin"])
async def test_a_password_that_is_not_valid_text_is_a_400(
    client: httpx.AsyncClient, route: str
) -> None:
    password = "abc\ud800defghij"  # a lone surrogate: JSON can carry it, UTF-8 cannot
    body = json.dumps({"email": new_email(), "password": password})

    response = await client.post(
        f"/api/users/{route}", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "password"
