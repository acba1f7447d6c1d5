"""One person on the platform: a browser (an HTTP client with its own cookies) signed up
through the real auth service, and what they can do with it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

import httpx

from ticketing.testkit.http import eventually

Json = dict[str, Any]


def expect(response: httpx.Response, status: int) -> Any:
    """The response's JSON, after checking its status (the body is in the failure message)."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: "
        f"{response.status_code} {response.text}"
    )
    return response.json() if response.content else None


class Browser:
    """One person on the platform: a client with its own cookies, and what they can do."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        user: Json,
        delivery_report: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        self.http = http
        self.id = UUID(user["id"])
        self.email: str = user["email"]
        # Where the platform's events are (Platform.delivery_report), told when an event
        # this person waits for never arrives.
        self._delivery_report = delivery_report

    async def sell(self, title: str = "Concert", price: str = "20.00") -> Json:
        ticket: Json = expect(
            await self.http.post("/api/tickets", json={"title": title, "price": float(price)}),
            201,
        )
        return ticket

    async def place_order(self, ticket_id: str) -> httpx.Response:
        return await self.http.post("/api/orders", json={"ticketId": ticket_id})

    async def order_once_orderable(self, ticket_id: str, *, timeout: float = 30) -> Json:
        """Order the ticket as soon as orders has learnt of it (404 until ticket.created)."""

        async def attempt() -> Json:
            order: Json = expect(await self.place_order(ticket_id), 201)
            return order

        try:
            return await eventually(attempt, timeout=timeout)
        except AssertionError as never_orderable:
            if self._delivery_report is None:
                raise
            report = await self._delivery_report()
            raise AssertionError(f"{never_orderable}\n{report}") from never_orderable

    async def order(self, order_id: str) -> Json:
        order: Json = expect(await self.http.get(f"/api/orders/{order_id}"), 200)
        return order

    async def order_status_is(self, order_id: str, status: str) -> None:
        """AssertionError (for ``eventually``) while orders shows the order in another status."""
        assert (await self.order(order_id))["status"] == status

    async def pay(self, order_id: str, token: str = "tok_visa") -> httpx.Response:
        return await self.http.post("/api/payments", json={"orderId": order_id, "token": token})

    async def refused_by_tickets(self) -> None:
        """AssertionError (for ``eventually``) while tickets still lets this person sell."""
        response = await self.http.post("/api/tickets", json={"title": "Mine", "price": 5})
        assert response.status_code == 401, response.text
        assert response.json() == {"errors": [{"message": "Not authorized"}]}

    async def refused_by_orders(self) -> None:
        """AssertionError (for ``eventually``) while orders still lets this person order. It
        asks for a ticket nobody sells: let in, the answer is 404 and nothing is reserved (a
        probe that placed real orders would take the ticket it probes with)."""
        response = await self.place_order(str(uuid4()))
        assert response.status_code == 401, response.text
