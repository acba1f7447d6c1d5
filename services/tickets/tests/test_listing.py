"""The listing's pages (DESIGN §3 ``GET /api/tickets?limit=&cursor=``): newest first, at most
``limit`` (50 by default, 200 at most), a ``Link: <…>; rel="next"`` while more follow."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from ticketing.common.pagination import Position, encode_cursor
from ticketing.common.service import ServiceRuntime
from ticketing.tickets.models import Ticket

NEXT = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


async def list_many(runtime: ServiceRuntime, count: int, *, days_ago: int = 1) -> list[str]:
    """``count`` free tickets listed a second apart, ``days_ago``; their ids, newest first."""
    start = datetime.now(UTC) - timedelta(days=days_ago)
    tickets = [
        Ticket.listed(title=f"Seat {n}", price=Decimal(10), seller=uuid4()) for n in range(count)
    ]
    for n, ticket in enumerate(tickets):
        ticket.created_at = start + timedelta(seconds=n)
    async with runtime.sessionmaker() as session:
        session.add_all(tickets)
        await session.commit()
    return [str(ticket.id) for ticket in reversed(tickets)]


def next_url(response: httpx.Response) -> str | None:
    link = response.headers.get("link")
    if link is None:
        return None
    found = NEXT.match(link)
    assert found is not None, link
    return found["url"]


async def every_page(client: httpx.AsyncClient, url: str) -> list[list[Any]]:
    pages: list[list[Any]] = []
    next_page: str | None = url
    while next_page is not None:
        response = await client.get(next_page)
        assert response.status_code == 200, response.text
        pages.append([ticket["id"] for ticket in response.json()])
        next_page = next_url(response)
    return pages


async def test_the_listing_shows_50_newest_first_by_default(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    newest_first = await list_many(runtime, 51)

    response = await client.get("/api/tickets")

    assert [ticket["id"] for ticket in response.json()] == newest_first[:50]
    assert next_url(response) is not None


async def test_following_next_walks_every_ticket_once_and_ends_without_a_link(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    newest_first = await list_many(runtime, 7)

    pages = await every_page(client, "/api/tickets?limit=3")

    assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:7]]


async def test_a_page_that_holds_the_rest_exactly_has_no_next_link(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    await list_many(runtime, 4)

    response = await client.get("/api/tickets?limit=4")

    assert len(response.json()) == 4
    assert "link" not in response.headers


async def test_tickets_listed_while_paging_do_not_shift_the_later_pages(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    newest_first = await list_many(runtime, 4, days_ago=2)
    first = await client.get("/api/tickets?limit=2")

    await list_many(runtime, 1)  # newer, listed between two page loads
    second = await client.get(str(next_url(first)))

    assert [t["id"] for t in second.json()] == newest_first[2:4]


async def test_the_next_link_keeps_the_page_size(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    await list_many(runtime, 3)

    response = await client.get("/api/tickets?limit=1")

    url = httpx.URL(str(next_url(response)))
    assert url.path == "/api/tickets"
    assert url.params["limit"] == "1"


async def test_the_largest_page_is_200(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/tickets?limit=200")

    assert response.status_code == 200


@pytest.mark.parametrize("limit", ["0", "-1", "201", "abc", "1.5", "", "99999999999999999999"])
async def test_a_bad_limit_is_a_400_naming_limit(client: httpx.AsyncClient, limit: str) -> None:
    response = await client.get("/api/tickets", params={"limit": limit})

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["limit"]


def tampered(cursor: str) -> str:
    flipped = "A" if cursor[5] != "A" else "B"
    return cursor[:5] + flipped + cursor[6:]


GOOD = encode_cursor(Position(datetime(2026, 1, 1, tzinfo=UTC), UUID(int=1)))
BAD_CURSORS = {
    "garbage": "not a cursor",
    "tampered": tampered(GOOD),
    "truncated": GOOD[:-3],
    "empty": "",
    "unicode": "é" * 10,
    "too long": GOOD * 10,
    "naive time": encode_cursor(Position(datetime(2026, 1, 1), UUID(int=1))),
}


@pytest.mark.parametrize("cursor", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
async def test_a_malformed_or_tampered_cursor_is_a_400_naming_cursor(
    client: httpx.AsyncClient, cursor: str
) -> None:
    response = await client.get("/api/tickets", params={"cursor": cursor})

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["cursor"]


async def test_a_reserved_ticket_leaves_the_listing_without_shortening_the_page(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    newest_first = await list_many(runtime, 3)
    async with runtime.sessionmaker() as session:
        reserved = await session.get(Ticket, UUID(newest_first[0]))
        assert reserved is not None
        reserved.order_id = uuid4()
        await session.commit()

    response = await client.get("/api/tickets?limit=2")

    assert [t["id"] for t in response.json()] == newest_first[1:3]


async def test_the_listing_shows_each_ticket_exactly_as_its_own_page_does(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    # The listing's bodies are written by PostgreSQL, the ticket's page by pydantic.
    titles = ['Quote " and \\ backslash', "é 🎫 <b>&amp;</b>", "tab\tnewline\nend", "/"]
    prices = [Decimal("0.01"), Decimal("99999999.99"), Decimal("12.50"), Decimal(10)]
    tickets = [
        Ticket.listed(title=title, price=price, seller=uuid4())
        for title, price in zip(titles, prices, strict=True)
    ]
    async with runtime.sessionmaker() as session:
        session.add_all(tickets)
        await session.commit()

    listed = (await client.get("/api/tickets")).json()
    pages = [(await client.get(f"/api/tickets/{body['id']}")).json() for body in listed]

    assert listed == pages
    assert sorted(body["title"] for body in listed) == sorted(titles)
