"""Who may do what: every route of the platform x every kind of caller -> the status it gets.

Callers: signed out, another user, the owner of the resource, an admin (``AUTH_ADMIN_EMAILS``),
a banned user and a revoked session (signed out, its token replayed) — the banned and revoked
callers act on resources they own, so their refusal is about who they are, not what they touch.
Every request is sent with an explicit ``Cookie`` header by one client that keeps no cookies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import httpx
import pytest
from platform_testing import BASE_URL, expect

from ticketing.auth.commands import ban_user
from ticketing.testkit.http import TEST_PASSWORD, eventually, sign_up

if TYPE_CHECKING:
    from platform_testing import Platform

WHO = ("signed_out", "other", "owner", "admin", "banned", "revoked")
ADMIN_EMAIL = f"admin-{uuid4().hex[:8]}@example.com"


@pytest.fixture(autouse=True)
def admin_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """Auth reads its admins from the environment, as in production (before ``platform``)."""
    monkeypatch.setenv("AUTH_ADMIN_EMAILS", ADMIN_EMAIL)


@dataclass
class Person:
    id: str
    email: str
    session: str
    ticket: str = ""  # a ticket they sell
    order: str = ""  # an order they placed (unpaid)


@dataclass
class World:
    """The people of the matrix and what they own, made through the real APIs."""

    people: dict[str, Person]
    victim: Person  # whom the admin bans
    seller: Person  # sells the tickets the others buy
    spare_tickets: list[str]  # unreserved tickets of the seller
    cancellable_order: str  # a second order of the owner, for DELETE
    shown: dict[str, Any] = field(default_factory=dict)

    def acting(self, who: str) -> Person:
        """Whose resource a caller touches: their own when they own things, else the owner's."""
        return self.people[who] if who in ("owner", "banned", "revoked") else self.people["owner"]


Request = tuple[str, str, dict[str, Any] | None]
Build = Callable[[World, str], Request]


@dataclass(frozen=True)
class Row:
    route: str
    expected: tuple[int, int, int, int, int, int]  # in the order of WHO
    build: Build


def _fresh_credentials(_: World, who: str) -> Request:
    email = f"new-{who}-{uuid4().hex[:8]}@example.com"
    return "POST", "/api/users/signup", {"email": email, "password": TEST_PASSWORD}


def _ban_target(world: World, who: str) -> Request:
    target = world.people["owner"] if who == "owner" else world.victim  # the owner: yourself
    return "POST", f"/api/users/{target.id}/ban", None


def _buy(world: World, who: str) -> Request:
    if who == "owner":
        ticket = world.people["owner"].ticket  # your own ticket
    elif who in ("other", "admin"):
        ticket = world.spare_tickets.pop()  # each success reserves one
    else:
        ticket = world.spare_tickets[0]
    return "POST", "/api/orders", {"ticketId": ticket}


def _pay(world: World, who: str) -> Request:
    return "POST", "/api/payments", {"orderId": world.acting(who).order, "token": "tok_visa"}


def _cancel(world: World, who: str) -> Request:
    order = world.cancellable_order if who == "owner" else world.acting(who).order
    return "DELETE", f"/api/orders/{order}", None


# Rows run top to bottom: the owner's lasting changes (pay, cancel) and the sign-outs come last.
#                                              out  other owner admin banned revoked
MATRIX = [
    Row("GET /api/users/currentuser",          (200, 200, 200, 200, 200, 200),
        lambda w, who: ("GET", "/api/users/currentuser", None)),
    Row("POST /api/users/signup",              (201, 201, 201, 201, 201, 201), _fresh_credentials),
    Row("POST /api/users/signin",              (200, 200, 200, 200, 200, 200),
        lambda w, who: ("POST", "/api/users/signin",
                        {"email": w.people["other"].email, "password": TEST_PASSWORD})),
    Row("POST /api/users/{id}/ban",            (401, 401, 401, 204, 401, 401), _ban_target),
    Row("POST /api/tickets",                   (401, 201, 201, 201, 401, 401),
        lambda w, who: ("POST", "/api/tickets", {"title": f"By {who}", "price": 12.5})),
    Row("GET /api/tickets",                    (200, 200, 200, 200, 200, 200),
        lambda w, who: ("GET", "/api/tickets", None)),
    Row("GET /api/tickets/{id}",               (200, 200, 200, 200, 200, 200),
        lambda w, who: ("GET", f"/api/tickets/{w.people['owner'].ticket}", None)),
    Row("PUT /api/tickets/{id}",               (401, 401, 200, 401, 401, 401),
        lambda w, who: ("PUT", f"/api/tickets/{w.acting(who).ticket}",
                        {"title": f"Edited by {who}", "price": 30})),
    Row("POST /api/orders",                    (401, 201, 400, 201, 401, 401), _buy),
    Row("GET /api/orders",                     (401, 200, 200, 200, 401, 401),
        lambda w, who: ("GET", "/api/orders", None)),
    Row("GET /api/orders/{id}",                (401, 401, 200, 401, 401, 401),
        lambda w, who: ("GET", f"/api/orders/{w.acting(who).order}", None)),
    Row("GET /api/query/tickets",              (200, 200, 200, 200, 200, 200),
        lambda w, who: ("GET", "/api/query/tickets", None)),
    Row("GET /api/query/tickets/{id}",         (200, 200, 200, 200, 200, 200),
        lambda w, who: ("GET", f"/api/query/tickets/{w.people['owner'].ticket}", None)),
    Row("GET /api/query/orders",               (401, 200, 200, 200, 401, 401),
        lambda w, who: ("GET", "/api/query/orders", None)),
    Row("POST /api/payments/authenticated",    (401, 401, 400, 401, 401, 401),
        lambda w, who: ("POST", "/api/payments/authenticated",
                        {"orderId": w.acting(who).order})),
    Row("POST /api/payments",                  (401, 401, 201, 401, 401, 401), _pay),
    Row("DELETE /api/orders/{id}",             (401, 401, 204, 401, 401, 401), _cancel),
    Row("POST /api/users/signout",             (200, 200, 200, 200, 200, 200),
        lambda w, who: ("POST", "/api/users/signout", None)),
]  # fmt: skip


def _no_cookie_jar() -> CookieJar:
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


async def _person(platform: Platform, stack: AsyncExitStack, email: str | None = None) -> Person:
    http = await stack.enter_async_context(platform.browser())
    user = await sign_up(http, email)
    return Person(id=str(user.id), email=user.email, session=http.cookies["session"])


@pytest.fixture
async def world(platform: Platform) -> AsyncIterator[tuple[World, httpx.AsyncClient]]:
    async with (
        AsyncExitStack() as stack,
        httpx.AsyncClient(
            transport=platform.transport, base_url=BASE_URL, cookies=_no_cookie_jar()
        ) as http,
    ):

        def as_(person: Person) -> dict[str, str]:
            return {"cookie": f"session={person.session}"}

        people = {who: await _person(platform, stack) for who in ("other", "owner", "banned")}
        people["revoked"] = await _person(platform, stack)
        people["admin"] = await _person(platform, stack, ADMIN_EMAIL)
        seller, victim = await _person(platform, stack), await _person(platform, stack)
        for who in ("owner", "banned", "revoked"):
            sold = await http.post(
                "/api/tickets", json={"title": f"{who}'s", "price": 20}, headers=as_(people[who])
            )
            people[who].ticket = expect(sold, 201)["id"]
        seller_tickets = []
        for _ in range(7):  # 4 to order now, 3 spare for the matrix
            sold = await http.post(
                "/api/tickets", json={"title": "Seller's", "price": 15}, headers=as_(seller)
            )
            seller_tickets.append(expect(sold, 201)["id"])

        async def order(person: Person, ticket: str) -> str:
            async def placed() -> str:
                response = await http.post(
                    "/api/orders", json={"ticketId": ticket}, headers=as_(person)
                )
                return str(expect(response, 201)["id"])

            return await eventually(placed, timeout=20)  # once orders knows the ticket

        async def known_to_orders() -> None:
            for ticket in spare:  # the seller may not buy it: proof that orders knows it
                response = await http.post(
                    "/api/orders", json={"ticketId": ticket}, headers=as_(seller)
                )
                assert response.status_code == 400, response.text

        spare = seller_tickets[4:]
        await eventually(known_to_orders, timeout=20)
        people["owner"].order = await order(people["owner"], seller_tickets[0])
        cancellable = await order(people["owner"], seller_tickets[1])
        people["banned"].order = await order(people["banned"], seller_tickets[2])
        people["revoked"].order = await order(people["revoked"], seller_tickets[3])

        async def known_to_payments_and_query() -> None:
            assert await platform.payments_order_status(people["owner"].order) == "created"
            listing = await http.get(f"/api/query/tickets/{people['owner'].ticket}")
            assert listing.status_code == 200

        await eventually(known_to_payments_and_query, timeout=20)

        # Ban one, sign the other out (keeping the token), then wait until all services know.
        await ban_user(platform.auth_settings, people["banned"].email)  # the operator's command
        signed_out = await http.post("/api/users/signout", headers=as_(people["revoked"]))
        expect(signed_out, 200)

        async def refused_everywhere() -> None:
            for who in ("banned", "revoked"):
                for path in ("/api/orders", "/api/query/orders"):
                    response = await http.get(path, headers=as_(people[who]))
                    assert response.status_code == 401, (who, path, response.text)
                response = await http.put(
                    f"/api/tickets/{people[who].ticket}",
                    json={"title": "x", "price": 1},
                    headers=as_(people[who]),
                )
                assert response.status_code == 401, (who, "tickets", response.text)
                response = await http.post(
                    "/api/payments",
                    json={"orderId": people[who].order, "token": "tok_visa"},
                    headers=as_(people[who]),
                )
                assert response.status_code == 401, (who, "payments", response.text)

        await eventually(refused_everywhere, timeout=20)
        yield World(people, victim, seller, spare, cancellable), http


async def test_every_route_answers_each_kind_of_caller_as_specified(
    world: tuple[World, httpx.AsyncClient],
) -> None:
    state, http = world
    mismatches = []

    for row in MATRIX:
        for who, expected in zip(WHO, row.expected, strict=True):
            method, path, body = row.build(state, who)
            headers = (
                {} if who == "signed_out" else {"cookie": f"session={state.people[who].session}"}
            )
            response = await http.request(method, path, json=body, headers=headers)
            if response.status_code != expected:
                mismatches.append(f"{row.route} as {who}: {response.status_code} != {expected}")
            if response.status_code >= 400:
                assert "errors" in response.json(), f"{row.route} as {who}: {response.text}"

    assert mismatches == []


async def test_each_caller_is_who_their_session_says_or_nobody(
    world: tuple[World, httpx.AsyncClient],
) -> None:
    state, http = world

    seen = {}
    for who in WHO:
        headers = {} if who == "signed_out" else {"cookie": f"session={state.people[who].session}"}
        body = (await http.get("/api/users/currentuser", headers=headers)).json()
        seen[who] = body["currentUser"]["id"] if body["currentUser"] else None

    people = state.people
    assert seen == {
        "signed_out": None,
        "other": people["other"].id,
        "owner": people["owner"].id,
        "admin": people["admin"].id,
        "banned": None,
        "revoked": None,
    }


async def test_nobody_lists_another_users_orders(world: tuple[World, httpx.AsyncClient]) -> None:
    state, http = world
    owners_orders = {state.people["owner"].order, state.cancellable_order}

    for who in ("other", "admin"):
        headers = {"cookie": f"session={state.people[who].session}"}
        for path in ("/api/orders", "/api/query/orders"):
            listed = {order["id"] for order in (await http.get(path, headers=headers)).json()}

            assert listed.isdisjoint(owners_orders), (who, path)
