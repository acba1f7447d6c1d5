"""A user banned in auth is refused everywhere within seconds, although their cookie is valid."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ticketing.testkit.http import eventually

if TYPE_CHECKING:
    from platform_testing import Platform


async def test_a_banned_user_is_refused_by_tickets_and_orders(platform: Platform) -> None:
    seller, banned = await platform.sign_up(), await platform.sign_up()
    ticket = await seller.sell()
    await banned.order_once_orderable(ticket["id"])  # signed in and welcome, so far
    session = banned.http.cookies.get("session")

    await platform.ban(banned)

    await eventually(banned.refused_by_tickets, timeout=5)
    await eventually(banned.refused_by_orders, timeout=5)
    assert banned.http.cookies.get("session") == session  # the same, still unexpired, token
    assert (await seller.sell("Still selling"))["title"] == "Still selling"
