"""The read model's listing, a page at a time: newest first, optionally one status, keyset
cursors in the body's ``next`` and the ``Link`` header, no count."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

import httpx
import pytest
import sqlalchemy as sa
from query_world import listing, publish, reservation, ticket_created

from ticketing.common.bus import Bus
from ticketing.common.db import create_migration_engine
from ticketing.query.config import QuerySettings
from ticketing.query.models import Listing


async def three_listings(client: httpx.AsyncClient, bus: Bus) -> tuple[UUID, UUID, UUID]:
    """Three tickets listed in this order, the last one reserved: (older, newer, taken)."""
    older, newer, taken = uuid4(), uuid4(), uuid4()
    await publish(bus, ticket_created(older), ticket_created(newer), ticket_created(taken))
    await publish(bus, reservation(uuid4(), taken, uuid4()))
    await listing(client, taken, status="reserved")
    await listing(client, newer, status="available")
    return older, newer, taken


def ids(page: httpx.Response) -> list[str]:
    return [item["id"] for item in page.json()["items"]]


async def test_listings_are_newest_first_and_filter_by_status(
    client: httpx.AsyncClient, bus: Bus
) -> None:
    older, newer, taken = await three_listings(client, bus)

    everything = await client.get("/api/query/tickets")
    reserved = await client.get("/api/query/tickets?status=reserved")

    assert ids(everything) == [str(taken), str(newer), str(older)]
    assert (everything.json()["limit"], everything.json()["next"]) == (50, None)
    assert "link" not in everything.headers
    assert ids(reserved) == [str(taken)]


async def test_the_next_cursor_leads_to_the_following_page_of_the_same_status(
    client: httpx.AsyncClient, bus: Bus
) -> None:
    older, newer, _ = await three_listings(client, bus)

    first = await client.get("/api/query/tickets?status=available&limit=1")
    cursor = first.json()["next"]
    second = await client.get(
        "/api/query/tickets", params={"status": "available", "limit": 1, "cursor": cursor}
    )

    assert ids(first) + ids(second) == [str(newer), str(older)]
    assert first.headers["link"].endswith('>; rel="next"')
    assert "status=available" in first.headers["link"]
    assert second.json()["next"] is None


async def test_an_unknown_status_filter_is_a_400_naming_status(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/query/tickets?status=gone")

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["status"]


@pytest.mark.parametrize("limit", ["0", "201", "-1", "ten"])
async def test_a_page_size_outside_1_to_200_is_a_400(client: httpx.AsyncClient, limit: str) -> None:
    response = await client.get("/api/query/tickets", params={"limit": limit})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "limit"


@pytest.mark.parametrize("cursor", ["not-a-cursor", "", "AAAAAAAAAAAAAAAAAAAAAAAA"])
async def test_a_cursor_that_is_not_ours_is_a_400_naming_cursor(
    client: httpx.AsyncClient, cursor: str
) -> None:
    response = await client.get("/api/query/tickets", params={"cursor": cursor})

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["cursor"]


async def test_a_listed_item_is_exactly_what_its_own_page_shows(
    client: httpx.AsyncClient, bus: Bus, query_settings: QuerySettings
) -> None:
    # The items are written by PostgreSQL, a listing's page by pydantic: the same JSON,
    # down to a timestamp on a whole second (pydantic leaves its microseconds out).
    whole, fraction = uuid4(), uuid4()
    await publish(
        bus,
        ticket_created(whole, title='Quote " and \\ é 🎫', price="99999999.99"),
        ticket_created(fraction, title="<b>&amp;</b>", price="0.01"),
    )
    await listing(client, whole, status="available")
    await listing(client, fraction, status="available")
    await set_updated_at(query_settings, whole, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))

    items = (await client.get("/api/query/tickets")).json()["items"]
    pages = [(await client.get(f"/api/query/tickets/{item['id']}")).json() for item in items]

    assert items == pages
    assert [item["updatedAt"] for item in items if item["id"] == str(whole)] == [
        "2026-01-02T03:04:05Z"
    ]


async def set_updated_at(settings: QuerySettings, listing_id: UUID, at: datetime) -> None:
    engine = create_migration_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            statement = sa.update(Listing).where(Listing.id == listing_id).values(updated_at=at)
            await connection.execute(statement)
    finally:
        await engine.dispose()
