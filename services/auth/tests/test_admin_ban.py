"""``POST /api/users/{id}/ban`` (DESIGN §3): admins (``AUTH_ADMIN_EMAILS``) ban over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

import httpx
import pytest

from ticketing.common.bus import Bus
from ticketing.common.events import UserBanned, UserCreated
from ticketing.testkit.events import events_of, last_event
from ticketing.testkit.http import assert_refused, eventually, new_client_like

if TYPE_CHECKING:
    from conftest import AuthApp

PASSWORD = "correct horse battery"
ADMIN = f"admin-{uuid4().hex[:6]}@example.com"
NOT_AUTHORIZED = {"errors": [{"message": "Not authorized"}]}


@pytest.fixture
async def admin_client(auth_app: AuthApp) -> AsyncIterator[httpx.AsyncClient]:
    """An auth whose admins are ADMIN (listed in other case) and someone else; signed in as
    ADMIN."""
    async with auth_app(admin_emails=[ADMIN.upper(), "boss@example.com"]) as client:
        await sign_up(client, ADMIN)
        yield client


async def sign_up(client: httpx.AsyncClient, email: str | None = None) -> UUID:
    email = email or f"user-{uuid4().hex[:8]}@example.com"
    response = await client.post("/api/users/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"])


async def another_user(client: httpx.AsyncClient) -> UUID:
    async with new_client_like(client) as someone:
        return await sign_up(someone)


async def published_after_marker(client: httpx.AsyncClient, bus: Bus) -> None:
    """Wait until a new user.created is on the bus: the relay publishes in commit order, so
    every event committed before it is on the bus too."""
    marker = await another_user(client)

    async def marker_published() -> None:
        assert (await last_event(bus, UserCreated)).data.id == marker

    await eventually(marker_published)


async def test_an_admin_bans_a_user_everywhere(admin_client: httpx.AsyncClient, bus: Bus) -> None:
    async with new_client_like(admin_client) as troll:
        troll_id = await sign_up(troll)

        response = await admin_client.post(f"/api/users/{troll_id}/ban")

        assert response.status_code == 204
        assert response.content == b""
        event = await eventually(lambda: last_event(bus, UserBanned))
        assert event.data.user_id == troll_id
        current = await troll.get("/api/users/currentuser")
        assert current.json() == {"currentUser": None}  # their unexpired token is refused


async def test_banning_twice_is_harmless_and_published_once(
    admin_client: httpx.AsyncClient, bus: Bus
) -> None:
    troll_id = await another_user(admin_client)

    first = await admin_client.post(f"/api/users/{troll_id}/ban")
    second = await admin_client.post(f"/api/users/{troll_id}/ban")
    await published_after_marker(admin_client, bus)

    assert first.status_code == second.status_code == 204
    assert [e.data.user_id for e in await events_of(bus, UserBanned)] == [troll_id]


async def test_signed_out_callers_get_401(admin_client: httpx.AsyncClient) -> None:
    async with new_client_like(admin_client) as anonymous:
        response = await anonymous.post(f"/api/users/{uuid4()}/ban")

    assert response.status_code == 401
    assert response.json() == NOT_AUTHORIZED


async def test_a_user_who_is_not_an_admin_gets_401_and_bans_nobody(
    admin_client: httpx.AsyncClient, bus: Bus
) -> None:
    async with new_client_like(admin_client) as user:
        await sign_up(user)
        victim = await another_user(admin_client)

        response = await user.post(f"/api/users/{victim}/ban")
    await published_after_marker(admin_client, bus)

    assert response.status_code == 401
    assert response.json() == NOT_AUTHORIZED
    assert await events_of(bus, UserBanned) == []


async def test_admins_are_compared_after_normalisation(auth_app: AuthApp) -> None:
    full_width_boss = "\uff42\uff4f\uff53\uff53@EXAMPLE.com"  # "boss" in full-width letters
    async with auth_app(admin_emails=[full_width_boss]) as client:
        await sign_up(client, "boss@example.com")
        victim = await another_user(client)

        response = await client.post(f"/api/users/{victim}/ban")

    assert response.status_code == 204


@pytest.mark.parametrize(
    "user_id", [str(uuid4()), "not-an-id", "1"], ids=["unknown", "malformed", "number"]
)
async def test_an_unknown_or_malformed_id_is_a_404(
    admin_client: httpx.AsyncClient, user_id: str
) -> None:
    response = await admin_client.post(f"/api/users/{user_id}/ban")

    assert_refused(response, 404, "Not found")


async def test_a_banned_admin_can_ban_no_one(admin_client: httpx.AsyncClient) -> None:
    admin_id = (await admin_client.get("/api/users/currentuser")).json()["currentUser"]["id"]
    victim = await another_user(admin_client)
    assert (await admin_client.post(f"/api/users/{admin_id}/ban")).status_code == 204

    response = await admin_client.post(f"/api/users/{victim}/ban")

    assert response.status_code == 401
