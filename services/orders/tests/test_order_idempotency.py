"""``Idempotency-Key`` on ``POST /api/orders`` now that the key is claimed in the request's own
transaction (DESIGN §3): a twin arriving while the first still runs gets 409 at once and does
nothing; a final refusal, written after the work rolled back, is the key's answer for good."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.auth import CurrentUser
from ticketing.common.events import TicketCreatedData
from ticketing.orders.domain import TICKET_RESERVED
from ticketing.orders.use_cases import buyer_lock
from ticketing.testkit.http import assert_refused, eventually
from ticketing.testkit.locks import someone_waits_for_an_advisory_lock


async def test_a_twin_request_while_the_first_still_runs_gets_409_and_does_nothing(
    client: httpx.AsyncClient,
    buyer: CurrentUser,
    ticket: TicketCreatedData,
    db: async_sessionmaker[AsyncSession],
) -> None:
    headers, body = {"Idempotency-Key": f"key-{uuid4()}"}, {"ticketId": str(ticket.id)}
    async with db() as other_transaction:  # holds "this buyer is ordering": the first waits
        await other_transaction.execute(sa.select(buyer_lock(buyer.id).acquire()))
        first = asyncio.create_task(client.post("/api/orders", json=body, headers=headers))
        await eventually(lambda: someone_waits_for_an_advisory_lock(db, "the first request"))

        # (a twin that waited for the first instead would wait for this test: bounded)
        twin = await asyncio.wait_for(client.post("/api/orders", json=body, headers=headers), 10)

        assert twin.status_code == 409, twin.text
        await other_transaction.rollback()
    assert (await first).status_code == 201
    retry = await client.post("/api/orders", json=body, headers=headers)
    assert retry.status_code == 201 and retry.json() == (await first).json()
    assert len((await client.get("/api/orders")).json()) == 1


async def test_a_final_refusal_stays_the_keys_answer_after_the_ticket_is_free_again(
    client: httpx.AsyncClient,
    buyer: CurrentUser,
    stranger: httpx.AsyncClient,
    ticket: TicketCreatedData,
) -> None:
    body = {"ticketId": str(ticket.id)}
    theirs = await stranger.post("/api/orders", json=body)
    assert theirs.status_code == 201, theirs.text
    headers = {"Idempotency-Key": f"key-{uuid4()}"}
    refused = await client.post("/api/orders", json=body, headers=headers)
    assert_refused(refused, 400, TICKET_RESERVED)
    assert (await stranger.delete(f"/api/orders/{theirs.json()['id']}")).status_code == 204

    retry = await client.post("/api/orders", json=body, headers=headers)

    assert_refused(retry, 400, TICKET_RESERVED)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert (await client.get("/api/orders")).json() == []
