"""The whole platform in one process, as the cross-service tests see it: its apps behind one
``RoutedTransport`` (routed by path like the ingress), the people on it, and what the services
and the Stripe sandbox hold. The ``platform`` fixture (tests/conftest.py) starts it."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass
from uuid import UUID

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from platform_testing.lifespans import started_together
from platform_testing.people import Browser, Json, expect
from ticketing.auth.commands import ban_user
from ticketing.auth.config import AuthSettings
from ticketing.common.db import outbox, processed_events
from ticketing.common.service import ServiceRuntime
from ticketing.payments.models import Order as PaymentsOrder
from ticketing.payments.models import Payment
from ticketing.testkit.embedded import EmbeddedPostgres
from ticketing.testkit.http import RoutedTransport, eventually, sign_up
from ticketing.testkit.money_invariant import Violation, check_money, still_settling

BASE_URL = "http://testserver"


@dataclass(frozen=True)
class PlatformOptions:
    expiration_window_seconds: float = 900
    expiration_worker: bool = False
    # The sweep runs once at start-up, then every interval: by default, never again in a test.
    sweep_interval_seconds: float = 3600
    # ORDERS_/EXPIRATION_PAYMENT_GRACE_SECONDS, one value for both (0: expire at expiresAt).
    payment_grace_seconds: float = 0
    query: bool = True  # False: the query service is created but not started (start_query)
    # True: orders' database lives on a PostgreSQL server of its own (``own_postgres``), so a
    # test can take only orders' database down (Platform.stop_orders_database).
    orders_database_apart: bool = False
    client_url: str = "http://localhost:8080"  # where 3-D Secure returns the buyer


@dataclass
class Platform:
    options: PlatformOptions
    apps: dict[str, FastAPI]
    transport: RoutedTransport
    auth_settings: AuthSettings
    sandbox_url: str
    _stack: AsyncExitStack
    orders_postgres: EmbeddedPostgres | None = None  # with orders_database_apart

    def browser(self) -> httpx.AsyncClient:
        """A fresh browser (no cookies) in front of the whole platform."""
        return httpx.AsyncClient(transport=self.transport, base_url=BASE_URL)

    async def sign_up(self) -> Browser:
        http = await self._stack.enter_async_context(self.browser())
        user = await sign_up(http)
        return Browser(http, {"id": str(user.id), "email": user.email}, self.delivery_report)

    async def start_query(self) -> None:
        await self._stack.enter_async_context(started_together([self.apps["query"]]))

    async def ban(self, browser: Browser) -> None:
        """What an operator does: ``python -m ticketing.auth ban EMAIL``."""
        await ban_user(self.auth_settings, browser.email)

    async def ticket(self, ticket_id: str) -> Json:
        """The ticket as the tickets service has it."""
        async with self.browser() as anonymous:
            ticket: Json = expect(await anonymous.get(f"/api/tickets/{ticket_id}"), 200)
        return ticket

    async def charges_for(self, order_id: str) -> list[Json]:
        """Charges that moved money for the order, as the Stripe sandbox saw them."""
        async with httpx.AsyncClient() as http:
            charges = expect(await http.get(f"{self.sandbox_url}/_sandbox/charges"), 200)
        return [c for c in charges["data"] if c["metadata"].get("orderId") == order_id]

    async def payments_of(self, order_id: str) -> list[Payment]:
        """Payments the payments service stored for the order (its own database)."""
        async with self._runtime("payments").sessionmaker() as session:
            rows = await session.scalars(
                sa.select(Payment).where(Payment.order_id == UUID(order_id))
            )
            return list(rows)

    async def payments_order_status(self, order_id: str) -> str | None:
        """The order's status in payments' replica (None until order.created arrived)."""
        async with self._runtime("payments").sessionmaker() as session:
            order = await session.get(PaymentsOrder, UUID(order_id))
            return None if order is None else order.status

    async def payments_order_is(self, order_id: str, status: str) -> None:
        """AssertionError (for ``eventually``) until payments' replica has the order so."""
        assert await self.payments_order_status(order_id) == status

    async def payable_order(self, buyer: Browser, ticket_id: str) -> Json:
        """The buyer's order of the ticket, once payments has replicated it (order.created):
        it can be paid from then on."""
        order = await buyer.order_once_orderable(ticket_id)
        await eventually(lambda: self.payments_order_is(order["id"], "created"))
        return order

    async def handled_events(self, service: str, event_type: str) -> int:
        """How many events of ``event_type`` the service has handled (its processed_events)."""
        async with self._runtime(service).sessionmaker() as session:
            handled = await session.scalar(
                sa.select(sa.func.count())
                .select_from(processed_events)
                .where(processed_events.c.event_type == event_type)
            )
            return int(handled or 0)

    async def stop_orders_database(self) -> None:
        """A real outage of orders' database server (connections refused until restarted)."""
        assert self.orders_postgres is not None, "needs platform(orders_database_apart=True)"
        await asyncio.to_thread(self.orders_postgres.shut_down)

    async def start_orders_database(self) -> None:
        assert self.orders_postgres is not None, "needs platform(orders_database_apart=True)"
        await asyncio.to_thread(self.orders_postgres.start_again)

    def database_url(self, service: str) -> str:
        url: str = self._runtime(service).settings.database_url
        return url

    async def money_violations(self) -> list[Violation]:
        """DESIGN §3's invariant over this platform's orders: kept charges = 1 if complete,
        else 0 (the sandbox is the session's, so other tests' charges are left out)."""
        return await check_money(self.database_url("orders"), self.sandbox_url)

    async def still_settling(self) -> list[str]:
        """What is still on its way (orders not final, replicas behind, refunds owed)."""
        return await still_settling(self.database_url("orders"), self.database_url("payments"))

    async def delivery_report(self) -> str:
        """Where the events are, for a test whose event never arrived: per service, its
        outbox rows not yet published and what its durable consumer has not yet settled."""
        lines = []
        for name in self.apps:
            runtime = self._runtime(name)
            if not runtime.bus.is_connected:
                lines.append(f"{name}: not running")
                continue
            async with runtime.sessionmaker() as session:
                unpublished = await session.scalar(
                    sa.select(sa.func.count())
                    .select_from(outbox)
                    .where(outbox.c.published_at.is_(None))
                )
            line = f"{name}: {unpublished} outbox rows unpublished"
            if runtime.consumer is not None:
                line += f"; {await _consumer_state(runtime)}"
            lines.append(line)
        return "\n".join(lines)

    def _runtime(self, name: str) -> ServiceRuntime:
        runtime: ServiceRuntime = self.apps[name].state.runtime
        return runtime


async def _consumer_state(runtime: ServiceRuntime) -> str:
    assert runtime.consumer is not None
    names, durable = runtime.bus.names, runtime.consumer.durable
    try:
        info = await runtime.bus.js.consumer_info(names.stream, durable)
    except Exception as exc:  # what the report is for: a durable that is missing, say
        return f"durable {durable}: {exc!r}"
    stream = await runtime.bus.js.stream_info(names.stream)
    return (
        f"durable {durable}: {info.num_pending} not delivered, {info.num_ack_pending} not acked,"
        f" {info.num_redelivered} redelivered, {info.num_waiting} fetches waiting; delivered up"
        f" to stream seq {info.delivered.stream_seq if info.delivered else None} of"
        f" {stream.state.last_seq}, problem: {runtime.consumer.problem}"
    )
