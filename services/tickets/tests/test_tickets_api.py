"""The tickets routes of DESIGN §3, from the outside."""

from typing import Any
from uuid import uuid4

import httpx
import pytest

from ticketing.common.auth import CurrentUser, KeyPair
from ticketing.testkit.http import new_client_like, sign_in_as

MALFORMED_ID = "not-a-uuid"


async def sell(client: httpx.AsyncClient, title: str = "Concert", price: Any = 20) -> Any:
    response = await client.post("/api/tickets", json={"title": title, "price": price})
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_signed_in_user_lists_a_ticket_for_sale(
    client: httpx.AsyncClient, seller: CurrentUser
) -> None:
    response = await client.post("/api/tickets", json={"title": "  Concert  ", "price": 19.99})

    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"],
        "title": "Concert",
        "price": 19.99,
        "userId": str(seller.id),
        "version": 0,
        "orderId": None,
    }
    assert (await client.get(f"/api/tickets/{body['id']}")).json() == body


async def test_a_price_is_kept_exactly(client: httpx.AsyncClient, seller: CurrentUser) -> None:
    ticket = await sell(client, price=0.1)

    shown = (await client.get(f"/api/tickets/{ticket['id']}")).json()

    assert shown["price"] == 0.1


async def test_listing_a_ticket_requires_a_session(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/tickets", json={"title": "Concert", "price": 20})

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Not authorized"}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"price": 20}, "Title is required"),
        ({"title": "", "price": 20}, "Title must not be empty"),
        ({"title": "   ", "price": 20}, "Title must not be empty"),
        ({"title": None, "price": 20}, "Title must be a string"),
    ],
)
async def test_a_ticket_needs_a_title(
    client: httpx.AsyncClient, seller: CurrentUser, body: dict[str, Any], message: str
) -> None:
    response = await client.post("/api/tickets", json=body)

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": message, "field": "title"}]}


async def test_a_title_has_at_most_200_characters(
    client: httpx.AsyncClient, seller: CurrentUser
) -> None:
    response = await client.post("/api/tickets", json={"title": "x" * 201, "price": 20})

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["title"]


@pytest.mark.parametrize(
    ("price", "message"),
    [
        (0, "Price must be greater than 0"),
        (-10, "Price must be greater than 0"),
        ("10", "Price must be a number"),
        (None, "Price must be a number"),
        (True, "Price must be a number"),
        (10.555, "Price must have at most 2 decimals"),
    ],
)
async def test_a_price_is_a_positive_number_with_at_most_two_decimals(
    client: httpx.AsyncClient, seller: CurrentUser, price: Any, message: str
) -> None:
    response = await client.post("/api/tickets", json={"title": "Concert", "price": price})

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": message, "field": "price"}]}


async def test_a_ticket_needs_a_price(client: httpx.AsyncClient, seller: CurrentUser) -> None:
    response = await client.post("/api/tickets", json={"title": "Concert"})

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Price is required", "field": "price"}]}


async def test_anyone_can_see_the_tickets_for_sale(
    client: httpx.AsyncClient, seller: CurrentUser
) -> None:
    first, second = await sell(client, "First"), await sell(client, "Second")

    async with new_client_like(client) as visitor:
        response = await visitor.get("/api/tickets")

    assert response.status_code == 200
    assert response.json() == [second, first]  # newest first


async def test_anyone_can_see_a_ticket(client: httpx.AsyncClient, seller: CurrentUser) -> None:
    ticket = await sell(client)

    async with new_client_like(client) as visitor:
        response = await visitor.get(f"/api/tickets/{ticket['id']}")

    assert response.status_code == 200
    assert response.json() == ticket


@pytest.mark.parametrize("ticket_id", [str(uuid4()), MALFORMED_ID], ids=["unknown", "malformed"])
async def test_an_unknown_or_malformed_ticket_id_is_not_found(
    client: httpx.AsyncClient, ticket_id: str
) -> None:
    response = await client.get(f"/api/tickets/{ticket_id}")

    assert response.status_code == 404
    assert response.json()["errors"][0]["message"]


async def test_the_owner_edits_a_ticket_and_its_version_goes_up(
    client: httpx.AsyncClient, seller: CurrentUser
) -> None:
    ticket = await sell(client)

    response = await client.put(
        f"/api/tickets/{ticket['id']}", json={"title": "Opera", "price": 35.5}
    )

    assert response.status_code == 200
    assert response.json() == {**ticket, "title": "Opera", "price": 35.5, "version": 1}
    assert (await client.get(f"/api/tickets/{ticket['id']}")).json() == response.json()


async def test_editing_requires_a_session(client: httpx.AsyncClient, seller: CurrentUser) -> None:
    ticket = await sell(client)

    async with new_client_like(client) as visitor:
        response = await visitor.put(
            f"/api/tickets/{ticket['id']}", json={"title": "Mine", "price": 1}
        )

    assert response.status_code == 401


async def test_only_the_owner_may_edit_a_ticket(
    client: httpx.AsyncClient, seller: CurrentUser, jwt_keys: KeyPair
) -> None:
    ticket = await sell(client)

    async with new_client_like(client) as other:
        sign_in_as(other, jwt_keys)
        response = await other.put(
            f"/api/tickets/{ticket['id']}", json={"title": "Mine", "price": 1}
        )

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Not authorized"}]}
    assert (await client.get(f"/api/tickets/{ticket['id']}")).json() == ticket


@pytest.mark.parametrize("ticket_id", [str(uuid4()), MALFORMED_ID], ids=["unknown", "malformed"])
async def test_editing_an_unknown_or_malformed_ticket_id_is_not_found(
    client: httpx.AsyncClient, seller: CurrentUser, ticket_id: str
) -> None:
    response = await client.put(f"/api/tickets/{ticket_id}", json={"title": "x", "price": 1})

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "", "price": 10}, "title"),
        ({"price": 10}, "title"),
        ({"title": "Opera", "price": 0}, "price"),
        ({"title": "Opera", "price": -1}, "price"),
        ({"title": "Opera", "price": "10"}, "price"),
        ({"title": "Opera", "price": 1.001}, "price"),
        ({"title": "Opera"}, "price"),
    ],
)
async def test_an_invalid_edit_is_refused_naming_the_field(
    client: httpx.AsyncClient, seller: CurrentUser, body: dict[str, Any], field: str
) -> None:
    ticket = await sell(client)

    response = await client.put(f"/api/tickets/{ticket['id']}", json=body)

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert (await client.get(f"/api/tickets/{ticket['id']}")).json() == ticket


async def test_the_service_reports_ready_and_documents_its_routes(
    client: httpx.AsyncClient,
) -> None:
    ready = await client.get("/readyz")
    document = await client.get("/openapi.json")

    assert ready.status_code == 200
    assert {"/api/tickets", "/api/tickets/{ticket_id}"} <= set(document.json()["paths"])
