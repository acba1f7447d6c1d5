"""Sessions from auth's side: what a token says, what a cookie that is not one of ours means,
and sign-out ending the session (``session.revoked``), not only clearing the cookie."""

from uuid import UUID, uuid4

import httpx
import jwt
import pytest

from ticketing.common.auth import AUDIENCE, ISSUER, SESSION_COOKIE
from ticketing.common.bus import Bus
from ticketing.common.events import SessionRevoked, UserCreated
from ticketing.testkit.events import events_of, last_event
from ticketing.testkit.http import eventually, new_client_like

PASSWORD = "correct horse battery"


async def signed_up(client: httpx.AsyncClient) -> tuple[str, str]:
    """A new user's email and session token (the client keeps the cookie)."""
    email = f"user-{uuid4().hex[:8]}@example.com"
    response = await client.post("/api/users/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return email, client.cookies[SESSION_COOKIE]


async def current_user(client: httpx.AsyncClient, token: str | None = None) -> object:
    if token is not None:
        client.cookies.set(SESSION_COOKIE, token)
    response = await client.get("/api/users/currentuser")
    assert response.status_code == 200, response.text
    return response.json()["currentUser"]


def claims(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


async def test_every_sign_in_is_a_session_of_its_own_naming_issuer_and_audience(
    client: httpx.AsyncClient,
) -> None:
    email, first = await signed_up(client)
    client.cookies.clear()

    await client.post("/api/users/signin", json={"email": email, "password": PASSWORD})
    second = client.cookies[SESSION_COOKIE]

    assert claims(first)["iss"] == claims(second)["iss"] == ISSUER == "ticketing-auth"
    assert claims(first)["aud"] == claims(second)["aud"] == AUDIENCE == "ticketing"
    assert UUID(str(claims(first)["jti"])) != UUID(str(claims(second)["jti"]))


@pytest.mark.parametrize(
    "cookie",
    [
        b"session=not-a-token",
        b"session=a.b.c",
        b"session=\xc3\xa9t\xc3\xa9.\xff\xfe.\x00",  # non-ASCII (and a NUL)
        b'session="unbalanced',
        b"session=" + b"A" * 8000,
        b"session==;session=;;",
    ],
)
async def test_a_cookie_that_is_not_a_token_means_signed_out(
    client: httpx.AsyncClient, cookie: bytes
) -> None:
    response = await client.get("/api/users/currentuser", headers={"cookie": cookie})

    assert response.status_code == 200
    assert response.json() == {"currentUser": None}


async def test_sign_out_revokes_the_session_and_says_so_on_the_bus(
    client: httpx.AsyncClient, bus: Bus
) -> None:
    _, token = await signed_up(client)
    user_id = await current_user(client)
    assert isinstance(user_id, dict)

    response = await client.post("/api/users/signout")

    assert response.status_code == 200
    assert await current_user(client, token) is None  # the same, unexpired, token
    event = await eventually(lambda: last_event(bus, SessionRevoked))
    assert event.data.session_id == UUID(str(claims(token)["jti"]))
    assert event.data.user_id == UUID(user_id["id"])
    assert int(event.data.expires_at.timestamp()) == claims(token)["exp"]


async def test_sign_out_ends_only_that_session(client: httpx.AsyncClient) -> None:
    email, _ = await signed_up(client)
    async with new_client_like(client) as other_browser:
        await other_browser.post("/api/users/signin", json={"email": email, "password": PASSWORD})

        await client.post("/api/users/signout")

        assert await current_user(other_browser) is not None


async def test_signing_out_again_with_the_old_token_publishes_nothing_more(
    client: httpx.AsyncClient, bus: Bus
) -> None:
    _, token = await signed_up(client)
    await client.post("/api/users/signout")

    client.cookies.set(SESSION_COOKIE, token)
    again = await client.post("/api/users/signout")
    async with new_client_like(client) as someone_else:
        marker, _ = await signed_up(someone_else)  # published after anything before it

    async def marker_published() -> None:
        assert (await last_event(bus, UserCreated)).data.email == marker

    await eventually(marker_published)

    assert again.status_code == 200
    assert len(await events_of(bus, SessionRevoked)) == 1


async def test_sign_out_without_a_session_is_still_fine(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/users/signout")

    assert response.status_code == 200
    assert response.json() == {}
