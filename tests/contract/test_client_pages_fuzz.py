"""The client's pages under odd query strings and cookies: never a server error, and every error
is a page (for a browser) or the contract's JSON (for an API caller).

The client serves HTML, so it has no OpenAPI document for schemathesis; Hypothesis generates
the requests instead (seeded, bounded), sent over real HTTP to the client under uvicorn, in
front of the real services.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from uuid import uuid4

import httpx
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketing.testkit.serving import served

from .schemathesis_hooks import contract_error_problem

if TYPE_CHECKING:
    from platform_testing import Platform

PAGES = [
    "/",
    "/tickets/new",
    f"/tickets/{uuid4()}",
    "/tickets/not-an-id",
    "/orders",
    f"/orders/{uuid4()}",
    "/auth/signin",
    "/auth/signup",
    "/auth/signout",
    "/no/such/page",
]
HTML = "text/html,application/xhtml+xml"
JSON = "application/json"

# Cookie values a browser could send: any printable character but the separators, any script.
cookie_values = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters=";,"),
    max_size=300,
)
query_values = st.one_of(
    st.text(max_size=40),
    st.integers().map(str),
    st.sampled_from(["99999999999999999999", "-1", "0", "1e9", "NaN", "//evil.example", "\x00"]),
)


def visit(base_url: str, session: str) -> None:
    """Hypothesis drives this in a worker thread, while the event loop serves the client."""

    @settings(
        max_examples=120,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        path=st.sampled_from(PAGES),
        query=st.dictionaries(
            st.sampled_from(["page", "cursor", "next", "q", "page[]", "ticketId"])
            | st.text(max_size=10),
            query_values,
            max_size=3,
        ),
        cookie=st.one_of(st.just(session), cookie_values),
        csrf=st.one_of(st.none(), cookie_values),
        accept=st.sampled_from([HTML, JSON]),
    )
    def page_answers(
        path: str, query: dict[str, str], cookie: str, csrf: str | None, accept: str
    ) -> None:
        header = b"session=" + cookie.encode()
        if csrf is not None:
            header += b"; csrftoken=" + csrf.encode()
        with httpx.Client(base_url=base_url, timeout=30) as http:
            response = http.get(path, params=query, headers={"cookie": header, "accept": accept})

        assert response.status_code < 500, (path, query, response.status_code, response.text)
        if response.status_code >= 400 and accept == HTML:
            assert 'data-testid="error-page"' in response.text, response.text
        if response.status_code >= 400 and accept == JSON:
            assert contract_error_problem(response.status_code, response.json()) is None

    page_answers()


async def test_odd_query_strings_and_cookies_never_break_a_page(
    platform: Platform, client_app: FastAPI
) -> None:
    seller = await platform.sign_up()
    await seller.sell("A ticket on the first page")

    async with served(client_app) as url:
        await asyncio.to_thread(visit, url, seller.http.cookies["session"])
