"""What auth tells the rest of the platform: user.created on signup, user.banned on a ban."""

from uuid import UUID, uuid4

import httpx

from ticketing.auth.commands import ban_user
from ticketing.auth.config import AuthSettings
from ticketing.common.bus import Bus
from ticketing.common.events import UserBanned, UserCreated
from ticketing.testkit.events import last_event
from ticketing.testkit.http import eventually

PASSWORD = "correct horse battery"


async def test_signup_publishes_user_created(client: httpx.AsyncClient, bus: Bus) -> None:
    email = f"new-{uuid4().hex[:8]}@example.com"

    response = await client.post("/api/users/signup", json={"email": email, "password": PASSWORD})

    event = await eventually(lambda: last_event(bus, UserCreated))
    assert event.data.model_dump() == {"id": UUID(response.json()["id"]), "email": email}


async def test_a_banned_user_is_signed_out_and_the_ban_is_published(
    client: httpx.AsyncClient, auth_settings: AuthSettings, bus: Bus
) -> None:
    email = f"troll-{uuid4().hex[:8]}@example.com"
    signup = await client.post("/api/users/signup", json={"email": email, "password": PASSWORD})

    await ban_user(auth_settings, email.upper())

    current = (await client.get("/api/users/currentuser")).json()
    assert current == {"currentUser": None}  # the token is still valid, the user is not
    signin = await client.post("/api/users/signin", json={"email": email, "password": PASSWORD})
    assert signin.status_code == 400
    event = await eventually(lambda: last_event(bus, UserBanned))
    assert str(event.data.user_id) == signup.json()["id"]
