"""The whole platform in one process: the fixtures of the cross-service and browser tests.

``platform`` starts auth, tickets, orders, payments and query (each with its own database, all
on the test's bus namespace), optionally the expiration worker, with payments charging through
a local Stripe sandbox. Every request goes through one ``RoutedTransport``, routed by path like
the ingress. A test configures its platform with a marker::

    @pytest.mark.platform(expiration_window_seconds=2, expiration_worker=True)
    async def test_...(platform: Platform) -> None:
        seller, buyer = await platform.sign_up(), await platform.sign_up()

Each ``Browser`` is one person: its own ``httpx.AsyncClient`` and cookie jar, signed up through
the real auth service. ``client_app`` / ``client_site`` put the SSR client in front of it.
``Platform`` and ``Browser`` live in ``platform_testing`` (on the tests'
path), which the tests may import at run time too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from platform_testing import Platform, PlatformOptions
from platform_testing.lifespans import started_together

from ticketing.auth.app import create_app as create_auth_app
from ticketing.auth.config import AuthSettings
from ticketing.client.app import create_app as create_client_app
from ticketing.client.config import ClientSettings
from ticketing.common.auth import KeyPair
from ticketing.expiration.config import ExpirationSettings
from ticketing.expiration.worker import running_worker
from ticketing.orders.app import create_app as create_orders_app
from ticketing.orders.config import OrdersSettings
from ticketing.payments.app import create_app as create_payments_app
from ticketing.payments.config import PaymentsSettings
from ticketing.query.app import create_app as create_query_app
from ticketing.query.config import QuerySettings
from ticketing.stripe_sandbox import serve
from ticketing.testkit.embedded import EmbeddedPostgres
from ticketing.testkit.fixtures import Infrastructure, worker_settings_for_tests
from ticketing.testkit.http import RoutedTransport
from ticketing.tickets.app import create_app as create_tickets_app
from ticketing.tickets.config import TicketsSettings

SettingsFactory = Callable[[str], Awaitable[dict[str, Any]]]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "platform(**options): how the `platform` fixture starts (PlatformOptions)"
    )


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


@pytest.fixture
async def client_app(platform: Platform) -> AsyncIterator[FastAPI]:
    """The SSR client, its calls routed to the platform's real services."""
    settings = ClientSettings(
        environment="test",
        csrf_secret="test-csrf-secret-of-at-least-32-characters",
        **{
            f"{name}_url": "http://testserver"
            for name in ("auth", "tickets", "orders", "payments", "query")
        },
    )
    app = create_client_app(settings, platform.transport)
    async with LifespanManager(app):
        yield app


@pytest.fixture
async def client_site(client_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=client_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://site") as http:
        yield http


def _prefix(service: str) -> str:
    return "users" if service == "auth" else service


def _expiration_settings(
    infrastructure: Infrastructure, namespace: str, options: PlatformOptions
) -> ExpirationSettings:
    return ExpirationSettings(
        **worker_settings_for_tests(infrastructure, namespace),
        poll_delay_seconds=0.1,
        payment_grace_seconds=options.payment_grace_seconds,
    )
