"""Placing an order costs one connection checkout and at most five database round trips
(issue 14): BEGIN, the buyer's lock (with the Idempotency-Key's claim), what the rules look
at, the order with its outbox row (and the key's answer), COMMIT. Counted from the engine's
own events, on the service as it runs: a structural figure, not a timing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from conftest import PublishTicket

MAX_ROUND_TRIPS = 5


@dataclass
class Traffic:
    """What the engine sent: statements (BEGIN and COMMIT/ROLLBACK included), checkouts."""

    checkouts: int = 0
    statements: list[str] = field(default_factory=list)


@contextmanager
def counted(app: FastAPI) -> Iterator[Traffic]:
    """Count the database traffic of the requests the block makes (begun in this task: the
    in-process transport runs the app in its caller's task; the service's loops run in
    theirs). A BEGIN is counted where the driver sends one: asyncpg's adapter opens the
    transaction with its first statement (a transaction with none sends nothing, not even
    its end)."""
    engine = app.state.runtime.engine.sync_engine
    traffic, requests = Traffic(), asyncio.current_task()

    def checkout(*_: Any) -> None:
        if asyncio.current_task() is requests:
            traffic.checkouts += 1

    def begin(conn: Connection) -> None:
        if asyncio.current_task() is requests:
            conn.info["unsent_begin"] = True

    def before_execute(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if asyncio.current_task() is not requests:
            return
        if conn.info.pop("unsent_begin", False):
            traffic.statements.append("BEGIN")
            conn.info["in_transaction"] = True
        traffic.statements.append(statement.split(None, 1)[0].upper())

    def end(name: str) -> Any:
        # Not by task: SQLAlchemy closes a session in a shielded task of its own. The mark
        # says our request's statement opened this connection's transaction.
        def ended(conn: Connection) -> None:
            conn.info.pop("unsent_begin", None)
            if conn.info.pop("in_transaction", False):
                traffic.statements.append(name)

        return ended

    def reset(dbapi_connection: Any, record: Any, reset_state: Any) -> None:
        # A connection back in the pool is rolled back (reset on return) if a transaction
        # is still open on it: a round trip no Connection event reports.
        opened_by_us = record.info.pop("in_transaction", False)
        if opened_by_us and dbapi_connection.driver_connection.is_in_transaction():
            traffic.statements.append("ROLLBACK (reset on return)")

    listeners = [
        (engine.pool, "checkout", checkout),
        (engine.pool, "reset", reset),
        (engine, "begin", begin),
        (engine, "before_cursor_execute", before_execute),
        (engine, "commit", end("COMMIT")),
        (engine, "rollback", end("ROLLBACK")),
    ]
    for target, name, listener in listeners:
        sa.event.listen(target, name, listener)
    try:
        yield traffic
    finally:
        for target, name, listener in listeners:
            sa.event.remove(target, name, listener)


@pytest.mark.usefixtures("buyer")
@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "order-1"}], ids=["plain", "key"])
async def test_placing_an_order_takes_one_checkout_and_at_most_five_round_trips(
    app: FastAPI,
    client: httpx.AsyncClient,
    publish_ticket: PublishTicket,
    headers: dict[str, str],
) -> None:
    warm_up, ticket = await publish_ticket(), await publish_ticket()
    # The first order warms the connection (asyncpg prepares each statement once per
    # connection, and reads type information on first use): the steady state is counted.
    first = await client.post("/api/orders", json={"ticketId": str(warm_up.id)}, headers={})
    assert first.status_code == 201, first.text

    with counted(app) as traffic:
        placed = await client.post(
            "/api/orders", json={"ticketId": str(ticket.id)}, headers=headers
        )

    assert placed.status_code == 201, placed.text
    assert traffic.checkouts == 1
    assert len(traffic.statements) <= MAX_ROUND_TRIPS, traffic.statements
    assert traffic.statements[0] == "BEGIN" and traffic.statements[-1] == "COMMIT"
