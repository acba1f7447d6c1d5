"""A banned seller's tickets leave the listing (DESIGN §3: orders refuses them, "Ticket is not
for sale"), while each keeps its page, so links to it still answer."""

from typing import Any
from uuid import UUID

import httpx
import sqlalchemy as sa

from ticketing.common.auth import KeyPair
from ticketing.common.bus import Bus
from ticketing.common.db import banned_users
from ticketing.common.events import UserBanned, UserBannedData
from ticketing.common.service import ServiceRuntime
from ticketing.testkit.events import publish_event
from ticketing.testkit.http import eventually, new_client_like, sign_in_as


async def sell_as_someone(client: httpx.AsyncClient, jwt_keys: KeyPair, title: str) -> Any:
    async with new_client_like(client) as seller:
        sign_in_as(seller, jwt_keys)
        response = await seller.post("/api/tickets", json={"title": title, "price": 20})
    assert response.status_code == 201, response.text
    return response.json()


async def ban(runtime: ServiceRuntime, bus: Bus, user_id: UUID) -> None:
    """Publish the ban as auth does, and wait until tickets has recorded it."""
    await publish_event(bus, UserBanned(data=UserBannedData(user_id=user_id)))

    async def recorded() -> None:
        async with runtime.sessionmaker() as session:
            found = await session.scalar(
                sa.select(banned_users.c.user_id).where(banned_users.c.user_id == user_id)
            )
        assert found is not None, "the ban has not reached tickets yet"

    await eventually(recorded)


async def test_a_banned_sellers_tickets_are_no_longer_listed(
    client: httpx.AsyncClient, jwt_keys: KeyPair, runtime: ServiceRuntime, bus: Bus
) -> None:
    banned = await sell_as_someone(client, jwt_keys, "Banned seller's seat")
    honest = await sell_as_someone(client, jwt_keys, "Honest seller's seat")

    await ban(runtime, bus, UUID(banned["userId"]))

    listed = (await client.get("/api/tickets")).json()
    assert [ticket["id"] for ticket in listed] == [honest["id"]]


async def test_a_banned_sellers_ticket_keeps_its_page(
    client: httpx.AsyncClient, jwt_keys: KeyPair, runtime: ServiceRuntime, bus: Bus
) -> None:
    ticket = await sell_as_someone(client, jwt_keys, "Banned seller's seat")

    await ban(runtime, bus, UUID(ticket["userId"]))

    response = await client.get(f"/api/tickets/{ticket['id']}")
    assert response.status_code == 200
    assert response.json() == ticket
