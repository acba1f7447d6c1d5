"""The bad input of issue 10, on the real platform: each was a 500 (or worse), each is now a 4xx
in the contract shape (DESIGN §3 "Bad input, every service")."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from platform_testing import Platform

TOO_LARGE = {"errors": [{"message": "Request body is too large"}]}
NON_ASCII_SESSION = "session=caf\xc3\xa9".encode("latin-1")  # what a browser sends for "café"


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("Con\x00cert", "Title must not contain control characters"),
        ("\x1b[31mFREE\x1b[0m", "Title must not contain control characters"),
        ("\u202etxt.exe", "Title must not contain control characters"),
        ("\u200b", "Title must contain a visible character"),
        ("   ", "Title must not be empty"),
    ],
)
async def test_a_title_that_shows_nothing_or_hides_controls_is_refused(
    platform: Platform, title: str, message: str
) -> None:
    seller = await platform.sign_up()

    response = await seller.http.post("/api/tickets", json={"title": title, "price": 10})

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": message, "field": "title"}]}


async def test_a_nul_byte_in_the_email_at_sign_in_is_a_400(platform: Platform) -> None:
    async with platform.browser() as browser:
        response = await browser.post(
            "/api/users/signin", json={"email": "a\x00@example.com", "password": "whatever1"}
        )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "email"


@pytest.mark.parametrize("path", ["/api/tickets", "/api/query/tickets"])
@pytest.mark.parametrize("limit", ["9223372036854775808", "201", "0", "-1"])
async def test_a_page_size_out_of_range_on_a_listing_is_a_400(
    platform: Platform, path: str, limit: str
) -> None:
    async with platform.browser() as browser:
        response = await browser.get(path, params={"limit": limit})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "limit"


@pytest.mark.parametrize("path", ["/api/tickets", "/api/query/tickets"])
async def test_a_made_up_cursor_on_a_listing_is_a_400(platform: Platform, path: str) -> None:
    async with platform.browser() as browser:
        response = await browser.get(path, params={"cursor": "bm90IGEgY3Vyc29y"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"


SIGNED_OUT_ANSWERS = [
    ("GET", "/api/users/currentuser", 200),
    ("POST", "/api/tickets", 401),
    ("GET", "/api/orders", 401),
    ("POST", "/api/payments", 401),
    ("GET", "/api/query/orders", 401),
]


async def test_a_non_ascii_session_cookie_is_signed_out_everywhere(platform: Platform) -> None:
    answers = []
    async with platform.browser() as browser:
        for method, path, _ in SIGNED_OUT_ANSWERS:
            body = {"title": "x", "price": 1} if path == "/api/tickets" else None
            if path == "/api/payments":
                body = {"orderId": "00000000-0000-4000-8000-000000000000", "token": "tok_visa"}
            response = await browser.request(
                method, path, headers={"cookie": NON_ASCII_SESSION}, json=body
            )
            answers.append((method, path, response.status_code))
            if response.status_code == 401:
                assert response.json() == {"errors": [{"message": "Not authorized"}]}
            else:
                assert response.json() == {"currentUser": None}

    assert answers == SIGNED_OUT_ANSWERS


OVERSIZED = [
    ("/api/users/signup", {"email": "big@example.com", "password": "x" * (10 * 1024 * 1024)}),
    ("/api/tickets", {"title": "Junk", "price": 10, "junk": [0] * (4 * 1024 * 1024)}),
    ("/api/orders", {"ticketId": "00000000-0000-4000-8000-000000000000", "x": "y" * 2**21}),
    ("/api/payments", {"orderId": "00000000-0000-4000-8000-000000000000", "token": "t" * 2**21}),
    ("/api/query/tickets", {"x": "y" * 2**21}),
]


async def test_a_body_over_1_mib_is_a_413_from_every_service(platform: Platform) -> None:
    user = await platform.sign_up()

    for path, body in OVERSIZED:
        response = await user.http.post(path, json=body)

        assert (path, response.status_code) == (path, 413)
        assert response.json() == TOO_LARGE


async def test_nothing_of_a_refused_body_was_stored(platform: Platform) -> None:
    seller = await platform.sign_up()
    junk = {"title": "Junk", "price": 10, "junk": [0] * (4 * 1024 * 1024)}

    refused = await seller.http.post("/api/tickets", json=junk)
    listed = await seller.http.get("/api/tickets")

    assert refused.status_code == 413
    assert [t for t in listed.json() if t["title"] == "Junk"] == []


async def test_a_made_up_page_cursor_is_a_404_page_not_a_502(
    client_site: httpx.AsyncClient,
) -> None:
    response = await client_site.get(
        "/", params={"cursor": "bm90IGEgY3Vyc29y"}, headers={"accept": "text/html"}
    )

    assert response.status_code == 404
    assert "Page not found" in response.text


@pytest.mark.parametrize("path", ["/", "/tickets/new", "/orders", "/auth/signin"])
async def test_a_non_ascii_session_cookie_on_a_client_page_is_signed_out(
    client_site: httpx.AsyncClient, path: str
) -> None:
    response = await client_site.get(path, headers={"cookie": NON_ASCII_SESSION})

    assert response.status_code in (200, 303)
    assert 'data-testid="current-user"' not in response.text
