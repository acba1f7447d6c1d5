"""Two buyers racing for one ticket: exactly one wins, and the database decides.

Fifty at once is more than the process admits (DESIGN §3: a bounded in-flight limit, then a
503 with ``Retry-After``): on a loaded machine the last of them are told to come back. A buyer
does what the contract asks of a client and retries after the advised wait, so every buyer's
final answer is the race's, whatever the machine's speed.
"""

import asyncio
from collections import Counter

import httpx

from ticketing.common.auth import KeyPair
from ticketing.common.events import TicketCreatedData
from ticketing.common.http_limits import BUSY
from ticketing.testkit.http import new_client_like, sign_in_as

BUYERS = 50
ATTEMPTS = 10


async def buy(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData
) -> httpx.Response:
    async with new_client_like(client) as buyer:
        sign_in_as(buyer, jwt_keys)
        for _ in range(ATTEMPTS):
            response = await buyer.post("/api/orders", json={"ticketId": str(ticket.id)})
            if response.status_code != 503:
                return response
            assert response.json() == {"errors": [{"message": BUSY}]}
            await asyncio.sleep(int(response.headers["retry-after"]))  # as the server asks
        return response


async def test_fifty_concurrent_buyers_of_one_ticket_one_wins(
    client: httpx.AsyncClient, jwt_keys: KeyPair, ticket: TicketCreatedData
) -> None:
    responses = await asyncio.gather(*(buy(client, jwt_keys, ticket) for _ in range(BUYERS)))

    assert Counter(r.status_code for r in responses) == {201: 1, 400: BUYERS - 1}
    refusals = [r.json() for r in responses if r.status_code == 400]
    assert all(body == {"errors": [{"message": "Ticket is already reserved"}]} for body in refusals)
