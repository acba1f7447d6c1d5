"""Signing out ends the session everywhere within 5 s (DESIGN §3), not only in the browser:
the old cookie, although unexpired, is refused by tickets and orders like no cookie at all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ticketing.common.auth import SESSION_COOKIE
from ticketing.testkit.http import TEST_PASSWORD, eventually

if TYPE_CHECKING:
    from platform_testing import Platform


async def test_a_signed_out_session_is_refused_everywhere_while_a_new_one_works(
    platform: Platform,
) -> None:
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    ticket = await seller.sell()
    await buyer.order_once_orderable(ticket["id"])  # signed in and welcome, so far
    other_ticket = await seller.sell("Another concert")
    old_session = buyer.http.cookies[SESSION_COOKIE]

    signed_out = await buyer.http.post("/api/users/signout")
    assert signed_out.status_code == 200
    buyer.http.cookies.set(SESSION_COOKIE, old_session)  # someone kept a copy of the cookie

    await eventually(buyer.refused_by_tickets, timeout=5)
    await eventually(buyer.refused_by_orders, timeout=5)
    current = await buyer.http.get("/api/users/currentuser")
    assert current.json() == {"currentUser": None}

    buyer.http.cookies.clear()
    signed_in = await buyer.http.post(
        "/api/users/signin", json={"email": buyer.email, "password": TEST_PASSWORD}
    )
    assert signed_in.status_code == 200
    assert buyer.http.cookies[SESSION_COOKIE] != old_session
    assert (await buyer.sell("Fresh session"))["title"] == "Fresh session"
    order = await buyer.order_once_orderable(other_ticket["id"])
    assert order["ticket"]["id"] == other_ticket["id"]
