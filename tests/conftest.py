"""The whole platform in one process: the fixtures of the cross-service and browser tests.

``platform`` starts auth, tickets, orders, payments and query (each with its own database, all
on the test's bus namespace), optionally the expiration worker, with payments charging through
a local Stripe sandbox. Every request goes through one ``RoutedTransport``, routed by path like
the ingress. A test configures its platform with a marker::

    @pytest.mark.platform(expiration_window_seconds=2, expiration_worker=True)
    async def test_...(platform: Platform) -> None:
        seller, buyer = await platform.sign_up(), await platform.sign_up()

Each ``Browser`` is one person: its own ``httpx.AsyncClient`` and cookie jar, signed up through
the real auth service.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ticketing.auth.app import create_app as create_auth_app
from ticketing.auth.commands import ban_user
from ticketing.auth.config import AuthSettings
from ticketing.common.auth import KeyPair
from ticketing.common.db import processed_events
from ticketing.common.service import ServiceRuntime
from ticketing.expiration.config import ExpirationSettings
from ticketing.expiration.worker import running_worker
from ticketing.orders.app import create_app as create_orders_app
from ticketing.orders.config import OrdersSettings
from ticketing.payments.app import create_app as create_payments_app
from ticketing.payments.config import PaymentsSettings
from ticketing.payments.models import Order as PaymentsOrder
from ticketing.payments.models import Payment
from ticketing.query.app import create_app as create_query_app
from ticketing.query.config import QuerySettings
from ticketing.stripe_sandbox import serve
from ticketing.testkit.embedded import EmbeddedPostgres
from ticketing.testkit.fixtures import Infrastructure
from ticketing.testkit.http import RoutedTransport, eventually, sign_up
from ticketing.testkit.money_invariant import Violation, check_money, still_settling
from ticketing.tickets.app import create_app as create_tickets_app
from ticketing.tickets.config import TicketsSettings

SettingsFactory = Callable[[str], Awaitable[dict[str, Any]]]
Json = dict[str, Any]
BASE_URL = "http://testserver"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "platform(**options): how the `platform` fixture starts (PlatformOptions)"
    )


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


def expect(response: httpx.Response, status: int) -> Any:
    """The response's JSON, after checking its status (the body is in the failure message)."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: "
        f"{response.status_code} {response.text}"
    )
    return response.json() if response.content else None


class Browser:
    """One person on the platform: a client with its own cookies, and what they can do."""

    def __init__(self, http: httpx.AsyncClient, user: Json) -> None:
        self.http = http
        self.id = UUID(user["id"])
        self.email: str = user["email"]

    async def sell(self, title: str = "Concert", price: str = "20.00") -> Json:
        ticket: Json = expect(
            await self.http.post("/api/tickets", json={"title": title, "price": float(price)}),
            201,
        )
        return ticket

    async def place_order(self, ticket_id: str) -> httpx.Response:
        return await self.http.post("/api/orders", json={"ticketId": ticket_id})

    async def order_once_orderable(self, ticket_id: str, *, timeout: float = 10) -> Json:
        """Order the ticket as soon as orders has learnt of it (404 until ticket.created)."""

        async def attempt() -> Json:
            order: Json = expect(await self.place_order(ticket_id), 201)
            return order

        return await eventually(attempt, timeout=timeout)

    async def order(self, order_id: str) -> Json:
        order: Json = expect(await self.http.get(f"/api/orders/{order_id}"), 200)
        return order

    async def pay(self, order_id: str, token: str = "tok_visa") -> httpx.Response:
        return await self.http.post("/api/payments", json={"orderId": order_id, "token": token})


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
        return Browser(http, {"id": str(user.id), "email": user.email})

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

    def _runtime(self, name: str) -> ServiceRuntime:
        runtime: ServiceRuntime = self.apps[name].state.runtime
        return runtime


@pytest.fixture(scope="session")
def stripe_sandbox() -> Iterator[str]:
    """One Stripe sandbox for the session; tests tell their charges apart by order id."""
    with serve() as url:
        yield url


@pytest.fixture
async def platform(
    request: pytest.FixtureRequest,
    service_settings: SettingsFactory,
    infrastructure: Infrastructure,
    bus_namespace: str,
    jwt_keys: KeyPair,
    stripe_sandbox: str,
) -> AsyncIterator[Platform]:
    marker = request.node.get_closest_marker("platform")
    options = PlatformOptions(**(marker.kwargs if marker else {}))
    # One database each; created side by side (CREATE DATABASE is the slow part of a start).
    auth, tickets, orders, payments, query = await asyncio.gather(
        *(service_settings(name) for name in ("auth", "tickets", "orders", "payments", "query"))
    )
    orders_postgres: EmbeddedPostgres | None = None
    if options.orders_database_apart:
        orders_postgres = request.getfixturevalue("own_postgres")
        orders = {**orders, "database_url": orders_postgres.create_database("orders")}
    auth_settings = AuthSettings(**auth, jwt_private_key=jwt_keys.private_pem)
    apps = {
        "auth": create_auth_app(auth_settings),
        "tickets": create_tickets_app(TicketsSettings(**tickets)),
        "orders": create_orders_app(
            OrdersSettings(
                **orders,
                expiration_window_seconds=options.expiration_window_seconds,
                sweep_interval_seconds=options.sweep_interval_seconds,
                payment_grace_seconds=options.payment_grace_seconds,
            )
        ),
        "payments": create_payments_app(
            PaymentsSettings(
                **payments, stripe_api_base=stripe_sandbox, client_url=options.client_url
            )
        ),
        "query": create_query_app(QuerySettings(**query)),
    }
    transport = RoutedTransport({f"/api/{_prefix(name)}": app for name, app in apps.items()})
    async with AsyncExitStack() as stack:
        at_start = [app for name, app in apps.items() if name != "query" or options.query]
        await stack.enter_async_context(started_together(at_start))
        if options.expiration_worker:
            await stack.enter_async_context(
                running_worker(_expiration_settings(infrastructure, bus_namespace, options))
            )
        yield Platform(
            options, apps, transport, auth_settings, stripe_sandbox, stack, orders_postgres
        )


def _prefix(service: str) -> str:
    return "users" if service == "auth" else service


@asynccontextmanager
async def started_together(apps: Sequence[FastAPI]) -> AsyncIterator[None]:
    """Run the apps' lifespans (migrations, bus, consumers), each in a task of its own (anyio
    wants a lifespan entered and exited in one task), so that they all stop at once.

    They start one after the other: Alembic's ``context`` is process-global, so two services
    migrating at once in one process would run in each other's migration context."""
    stop = asyncio.Event()

    async def serve_until_stopped(app: FastAPI, ready: asyncio.Event) -> None:
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
            ready.set()
            await stop.wait()

    lifespans: list[asyncio.Task[None]] = []
    try:
        for app in apps:
            ready = asyncio.Event()
            lifespans.append(asyncio.create_task(serve_until_stopped(app, ready)))
            await _started(lifespans[-1], ready)
        yield
    finally:
        stop.set()
        outcomes = await asyncio.gather(*lifespans, return_exceptions=True)
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if failures:
        raise failures[0]


async def _started(lifespan: asyncio.Task[None], ready: asyncio.Event) -> None:
    """Wait until the app is up; its start-up error, if it failed instead."""
    readiness = asyncio.create_task(ready.wait())
    await asyncio.wait([lifespan, readiness], return_when=asyncio.FIRST_COMPLETED)
    readiness.cancel()
    if lifespan.done():
        lifespan.result()


def _expiration_settings(
    infrastructure: Infrastructure, namespace: str, options: PlatformOptions
) -> ExpirationSettings:
    return ExpirationSettings(
        environment="test",
        redis_url=infrastructure.redis_url,
        nats_url=infrastructure.nats_url,
        bus_namespace=namespace,
        health_host="127.0.0.1",
        health_port=0,
        poll_delay_seconds=0.1,
        payment_grace_seconds=options.payment_grace_seconds,
        consumer_backoff_seconds=[0.05, 0.1, 0.2, 0.3, 0.5],
    )
