"""A banned seller's listings leave the query listing, as they leave tickets' own listing
(``GET /api/tickets``); each keeps its page, so links to it still answer."""

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx

from ticketing.common.bus import Bus
from ticketing.common.events import TicketCreated, TicketCreatedData, UserBanned, UserBannedData
from ticketing.testkit.events import publish_event
from ticketing.testkit.http import eventually


def listed_by(seller: UUID, title: str) -> TicketCreated:
    data = TicketCreatedData(
        id=uuid4(), title=title, price=Decimal("20"), user_id=seller, version=0
    )
    return TicketCreated(data=data)


async def listing_ids(client: httpx.AsyncClient, expected: list[UUID], **params: Any) -> None:
    response = await client.get("/api/query/tickets", params=params)
    assert response.status_code == 200, response.text
    page = response.json()
    assert [item["id"] for item in page["items"]] == [str(i) for i in expected]
    assert page["next"] is None


async def test_a_banned_sellers_listings_are_no_longer_listed(
    client: httpx.AsyncClient, bus: Bus
) -> None:
    banned, honest = uuid4(), uuid4()
    theirs, mine = listed_by(banned, "Banned seat"), listed_by(honest, "Honest seat")
    for event in (theirs, mine):
        await publish_event(bus, event)
    await eventually(lambda: listing_ids(client, [mine.data.id, theirs.data.id]))

    await publish_event(bus, UserBanned(data=UserBannedData(user_id=banned)))

    await eventually(lambda: listing_ids(client, [mine.data.id]))
    await listing_ids(client, [mine.data.id], status="available")


async def test_a_banned_sellers_listing_keeps_its_page(client: httpx.AsyncClient, bus: Bus) -> None:
    banned = uuid4()
    theirs, marker = listed_by(banned, "Banned seat"), listed_by(uuid4(), "After the ban")
    await publish_event(bus, theirs)
    await publish_event(bus, UserBanned(data=UserBannedData(user_id=banned)))
    await publish_event(bus, marker)  # handled after the ban: once listed, the ban is in
    await eventually(lambda: listing_ids(client, [marker.data.id]))

    response = await client.get(f"/api/query/tickets/{theirs.data.id}")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"]) == (str(theirs.data.id), "available")
