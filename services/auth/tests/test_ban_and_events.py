"""What auth tells the rest of the platform: user.created on signup, user.banned on a ban."""

from uuid import uuid4

import httpx
from nats.js.errors import NotFoundError

from ticketing.auth.commands import ban_user
from ticketing.auth.config import AuthSettings
from ticketing.common.bus import Bus
from ticketing.common.events import UserBanned, UserCreated
from ticketing.common.testing.fixtures import Infrastructure
from ticketing.common.testing.http import eventually

PASSWORD = "correct horse battery"


async def last_event(bus: Bus, event_type: str) -> bytes:
    try:
        message = await bus.js.get_last_msg(bus.names.stream, bus.names.subject(event_type))
    except NotFoundError as exc:
        raise AssertionError(f"no {event_type} event on the stream yet") from exc
    return message.data or b""


async def test_signup_publishes_user_created(
    client: httpx.AsyncClient, infrastructure: Infrastructure, bus_namespace: str
) -> None:
    email = f"new-{uuid4().hex[:8]}@example.com"
    user = (
        await client.post("/api/users/signup", json={"email": email, "password": PASSWORD})
    ).json()
    bus = Bus(infrastructure.nats_url, bus_namespace)
    await bus.connect()

    async def published() -> UserCreated:
        event = UserCreated.model_validate_json(await last_event(bus, "user.created"))
        assert str(event.data.id) == user["id"]
        return event

    try:
        event = await eventually(published)
    except Exception:
        await bus.close()
        raise
    await bus.close()
    assert event.data.email == email


async def test_a_banned_user_is_signed_out_and_the_ban_is_published(
    client: httpx.AsyncClient,
    auth_settings: AuthSettings,
    infrastructure: Infrastructure,
    bus_namespace: str,
) -> None:
    email = f"troll-{uuid4().hex[:8]}@example.com"
    user = (
        await client.post("/api/users/signup", json={"email": email, "password": PASSWORD})
    ).json()

    await ban_user(auth_settings, email.upper())

    current = (await client.get("/api/users/currentuser")).json()
    assert current == {"currentUser": None}  # the token is still valid, the user is not
    signin = await client.post("/api/users/signin", json={"email": email, "password": PASSWORD})
    assert signin.status_code == 400
    bus = Bus(infrastructure.nats_url, bus_namespace)
    await bus.connect()
    try:

        async def published() -> None:
            event = UserBanned.model_validate_json(await last_event(bus, "user.banned"))
            assert str(event.data.user_id) == user["id"]

        await eventually(published)
    finally:
        await bus.close()
