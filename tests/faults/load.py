"""The steady load of the fault suite: people using the platform through the gateway while it
is being hurt, each 2xx they get written down (``Ledger``) to be checked afterwards.

Sellers sign up and list tickets; buyers sign up and order them, then pay with a card that
works, pay with one that is declined (and let the order expire), pay with 3-D Secure through
the Stripe sandbox (its webhook completes the order), cancel (and the ticket is offered again:
a new order races the release of the old one), or let the order expire. A newcomer signs up now
and then. Every request's outcome is kept with its time, so the report can say what the load
saw during each fault. Errors (5xx, refused, timed out) are expected during outages and are
retried the way a person would: later, with the same ``Idempotency-Key`` for a payment.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from ticketing.testkit.platform_invariants import Ledger

PASSWORD = "password123"
PRICES = (10, 12.5, 20, 35)
SELLERS, BUYERS = 3, 6
LISTING_PAUSE, BUYING_PAUSE, NEWCOMER_PAUSE = 2.0, 0.7, 4.0
ORDER_RETRY_SECONDS = 20  # orders learns of a new ticket from its event


@dataclass(frozen=True)
class Outcome:
    at: float  # time.monotonic()
    action: str
    status: int  # 0: no answer (refused, timed out)


@dataclass
class Load:
    base_url: str
    ledger: Ledger = field(default_factory=Ledger)
    outcomes: list[Outcome] = field(default_factory=list)
    offered: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _names: itertools.count[int] = field(default_factory=itertools.count)

    async def request(
        self, person: httpx.AsyncClient, action: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        try:
            response = await person.request(method, path, **kwargs)
        except httpx.HTTPError:
            self.outcomes.append(Outcome(time.monotonic(), action, 0))
            return None
        self.outcomes.append(Outcome(time.monotonic(), action, response.status_code))
        return response

    def successes(self, action: str, since: float = 0) -> int:
        return sum(1 for o in self.outcomes if o.action == action and o.at >= since
                   and 200 <= o.status < 300)  # fmt: skip

    async def person(self) -> httpx.AsyncClient | None:
        """A new person, signed up (retried until it works or the load stops)."""
        client = httpx.AsyncClient(base_url=self.base_url, timeout=15)
        email = f"p{next(self._names)}-{uuid.uuid4().hex[:6]}@example.com"
        while not self.stopping.is_set():
            body = {"email": email, "password": PASSWORD}
            response = await self.request(client, "sign-up", "POST", "/api/users/signup", json=body)
            if response is not None and response.status_code == 201:
                self.ledger.users[response.json()["id"]] = email
                return client
            if response is not None and response.status_code == 400:  # applied, answer lost
                signed_in = await self.request(
                    client, "sign-in", "POST", "/api/users/signin", json=body
                )
                if signed_in is not None and signed_in.status_code == 200:
                    return client
            await asyncio.sleep(1)
        await client.aclose()
        return None

    async def pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds * random.uniform(0.5, 1.5))

    async def run(self) -> None:
        """Everyone at work until ``stopping`` is set."""
        await asyncio.gather(
            *(self._seller() for _ in range(SELLERS)),
            *(self._buyer() for _ in range(BUYERS)),
            self._newcomers(),
        )

    async def _seller(self) -> None:
        seller = await self.person()
        while seller is not None and not self.stopping.is_set():
            await self.list_ticket(seller)
            await self.pause(LISTING_PAUSE)
        if seller is not None:
            await seller.aclose()

    async def list_ticket(self, seller: httpx.AsyncClient) -> None:
        title = f"Fault suite {next(self._names)}"
        price = random.choice(PRICES)
        body = {"title": title, "price": price}
        response = await self.request(seller, "list", "POST", "/api/tickets", json=body)
        if response is not None and response.status_code == 201:
            ticket_id = response.json()["id"]
            self.ledger.tickets[ticket_id] = (title, f"{Decimal(str(price)):.2f}")
            self.offered.put_nowait(ticket_id)

    async def _newcomers(self) -> None:
        while not self.stopping.is_set():
            newcomer = await self.person()
            if newcomer is not None:
                await self.list_ticket(newcomer)
                await newcomer.aclose()
            await self.pause(NEWCOMER_PAUSE)

    async def _buyer(self) -> None:
        buyer = await self.person()
        while buyer is not None and not self.stopping.is_set():
            try:
                ticket_id = await asyncio.wait_for(self.offered.get(), 1)
            except TimeoutError:
                continue
            order = await self._order(buyer, ticket_id)
            if order is not None:
                await self._settle(buyer, order, ticket_id)
            await self.pause(BUYING_PAUSE)
        if buyer is not None:
            await buyer.aclose()

    async def _order(self, buyer: httpx.AsyncClient, ticket_id: str) -> str | None:
        deadline = time.monotonic() + ORDER_RETRY_SECONDS
        key = str(uuid.uuid4())
        while time.monotonic() < deadline and not self.stopping.is_set():
            response = await self.request(buyer, "order", "POST", "/api/orders",
                                          json={"ticketId": ticket_id},
                                          headers={"Idempotency-Key": key})  # fmt: skip
            if response is not None and response.status_code == 201:
                order_id: str = response.json()["id"]
                self.ledger.orders[order_id] = ticket_id
                return order_id
            if response is not None and response.status_code == 400:
                return None  # reserved by another buyer, or this buyer has too many unpaid
            await asyncio.sleep(1)  # 404 until orders has the ticket; 5xx or no answer
        return None

    async def _settle(self, buyer: httpx.AsyncClient, order_id: str, ticket_id: str) -> None:
        fate = random.random()
        if fate < 0.45:
            await self._pay(buyer, order_id, "tok_visa")
        elif fate < 0.55:
            await self._pay(buyer, order_id, "tok_chargeDeclined", "pay-declined")  # expires
        elif fate < 0.65:
            await self._pay_with_3d_secure(buyer, order_id)
        elif fate < 0.85:
            response = await self.request(buyer, "cancel", "DELETE", f"/api/orders/{order_id}")
            if response is not None and response.status_code == 204:
                self.ledger.cancelled.add(order_id)
                self.offered.put_nowait(ticket_id)  # free again: someone else may buy it
        # else: left to expire

    async def _pay(
        self, buyer: httpx.AsyncClient, order_id: str, token: str, action: str = "pay"
    ) -> None:
        key = str(uuid.uuid4())  # a retry of the same payment, never a second charge
        for _ in range(3):
            response = await self.request(buyer, action, "POST", "/api/payments",
                                          json={"orderId": order_id, "token": token},
                                          headers={"Idempotency-Key": key})  # fmt: skip
            if response is not None and response.status_code == 201:
                self.ledger.payments[order_id] = response.json()["id"]
                return
            if response is not None and response.status_code < 500:
                return  # declined, expired, not yet known to payments: a person gives up
            await asyncio.sleep(1)

    async def _pay_with_3d_secure(self, buyer: httpx.AsyncClient, order_id: str) -> None:
        body = {"orderId": order_id, "token": "tok_threeDSecure2Required"}
        response = await self.request(buyer, "pay-3ds", "POST", "/api/payments", json=body)
        if response is None or response.status_code != 202:
            return
        bank_page = response.json()["nextActionUrl"]
        async with httpx.AsyncClient(timeout=15) as bank:
            await self.request(bank, "3ds-complete", "POST", f"{bank_page}/complete")


async def awaited(check: Callable[[], Awaitable[bool]], *, timeout: float) -> float:
    """Seconds until ``check()`` is true; AssertionError after ``timeout``."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, f"not true after {timeout:.0f}s"
        await asyncio.sleep(0.25)
    return time.monotonic() - started


def counts(outcomes: list[Outcome], start: float, end: float) -> Counter[str]:
    """2xx / 4xx / 5xx / no answer among the load's requests between two moments."""
    tally: Counter[str] = Counter()
    for outcome in outcomes:
        if start <= outcome.at < end:
            kind = "no answer" if outcome.status == 0 else f"{outcome.status // 100}xx"
            tally[kind] += 1
    return tally
