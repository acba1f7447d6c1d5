"""The query service is a reader, not a dependency: the platform sells without it, and it
catches up on every event it missed once it starts (its durable consumer reads the stream)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ticketing.testkit.http import eventually

if TYPE_CHECKING:
    from platform_testing import Platform


@pytest.mark.platform(query=False)
async def test_the_read_model_catches_up_on_sales_made_while_it_was_down(
    platform: Platform,
) -> None:
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    sold = await seller.sell("Sold while query was down", "12.00")
    unsold = await seller.sell("Still for sale", "8.00")
    order = await platform.payable_order(buyer, sold["id"])
    paid = await buyer.pay(order["id"])
    assert paid.status_code == 201, paid.text
    await eventually(lambda: buyer.order_status_is(order["id"], "complete"))

    await platform.start_query()

    async def caught_up() -> None:
        listings = (await buyer.http.get("/api/query/tickets")).json()
        statuses = {item["id"]: item["status"] for item in listings["items"]}
        assert statuses == {sold["id"]: "sold", unsold["id"]: "available"}
        orders = (await buyer.http.get("/api/query/orders")).json()
        assert [(o["id"], o["status"]) for o in orders] == [(order["id"], "complete")]
        assert orders[0]["payment"]["id"] == paid.json()["id"]

    await eventually(caught_up)
