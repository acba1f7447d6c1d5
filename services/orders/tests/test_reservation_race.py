"""Two buyers racing for one ticket: exactly one wins, and the database decides."""

import asyncio
from collections import Counter

import httpx

from ticketing.common.auth import KeyPair
from ticketing.common.events import TicketCreatedData
from ticketing.testkit.http import new_client_like, sign_in_as

BUYERS = 50


async def buy(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData
) -> httpx.Response:
    async with new_client_like(client) as buyer:
        sign_in_as(buyer, jwt_keys)
        return await buyer.post("/api/orders", json={"ticketId": str(ticket.id)})


async def test_fifty_concurrent_buyers_of_one_ticket_one_wins(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData
) -> None:
    responses = await asyncio.gather(*(buy(client, jwt_keys, ticket) for _ in range(BUYERS)))

    assert Counter(r.status_code for r in responses) == {201: 1, 400: BUYERS - 1}
    refusals = [r.json() for r in responses if r.status_code == 400]
    assert all(body == {"errors": [{"message": "Ticket is already reserved"}]} for body in refusals)
