"""Ordering a ticket reserves it in the tickets service; cancelling the order frees it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ticketing.testkit.http import assert_refused, eventually

if TYPE_CHECKING:
    from platform_testing import Platform


async def test_an_order_reserves_the_ticket_until_it_is_cancelled(platform: Platform) -> None:
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    ticket = await seller.sell("Concert", "20.00")

    order = await buyer.order_once_orderable(ticket["id"])  # orders learnt it: ticket.created

    async def reserved_by_order() -> None:
        assert (await platform.ticket(ticket["id"]))["orderId"] == order["id"]

    await eventually(reserved_by_order)
    edit = {"title": "Concert (front row)", "price": 25}
    refused = await seller.http.put(f"/api/tickets/{ticket['id']}", json=edit)
    assert_refused(refused, 400, "Cannot edit a reserved ticket")

    cancelled = await buyer.http.delete(f"/api/orders/{order['id']}")

    assert cancelled.status_code == 204
    assert (await buyer.order(order["id"]))["status"] == "cancelled"

    async def freed() -> None:
        assert (await platform.ticket(ticket["id"]))["orderId"] is None

    await eventually(freed)
    edited = await seller.http.put(f"/api/tickets/{ticket['id']}", json=edit)
    assert edited.status_code == 200
    assert edited.json()["price"] == 25


async def test_a_freed_ticket_can_be_ordered_again(platform: Platform) -> None:
    seller, first, second = [await platform.sign_up() for _ in range(3)]
    ticket = await seller.sell()
    first_order = await first.order_once_orderable(ticket["id"])
    refused = await second.place_order(ticket["id"])
    assert_refused(refused, 400, "Ticket is already reserved")
    await first.http.delete(f"/api/orders/{first_order['id']}")

    second_order = await second.order_once_orderable(ticket["id"])

    async def reserved_by(order: dict[str, Any]) -> None:
        assert (await platform.ticket(ticket["id"]))["orderId"] == order["id"]

    await eventually(lambda: reserved_by(second_order))
    assert second_order["ticket"] == {"id": ticket["id"], "title": "Concert", "price": 20}
