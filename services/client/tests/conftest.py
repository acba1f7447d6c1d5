"""The client under test, with the real auth service and a contract_double for the rest.

The client's upstream transport routes by path prefix like the ingress: ``/api/users`` to the
real auth app (its own database, the test bus), every other API to the in-memory
``contract_double`` (switch those routes to the real apps once their tests need them).
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from client_testing.browser import Browser, BrowserFactory
from client_testing.contract_double import ContractDouble
from starlette.types import ASGIApp

from ticketing.auth.app import create_app as create_auth_app
from ticketing.auth.config import AuthSettings
from ticketing.client.app import create_app
from ticketing.client.config import ClientSettings
from ticketing.common.auth import KeyPair
from ticketing.testkit.http import RoutedTransport


@pytest.fixture
def contract_double(jwt_keys: KeyPair) -> ContractDouble:
    return ContractDouble(jwt_keys.public_pem)


@pytest.fixture
async def auth_app(
    service_settings: Callable[[str], Awaitable[dict[str, Any]]], jwt_keys: KeyPair
) -> AsyncIterator[ASGIApp]:
    settings = AuthSettings(**await service_settings("auth"), jwt_private_key=jwt_keys.private_pem)
    async with LifespanManager(create_auth_app(settings), startup_timeout=60) as manager:
        yield manager.app


@pytest.fixture
def client_settings() -> ClientSettings:
    return ClientSettings(
        environment="test",
        csrf_secret="test-csrf-secret-of-at-least-32-characters",
        **{
            f"{name}_url": f"http://{name}.internal"
            for name in ("auth", "tickets", "orders", "payments", "query")
        },
    )


@pytest.fixture
def upstreams(auth_app: ASGIApp, contract_double: ContractDouble) -> httpx.AsyncBaseTransport:
    double = contract_double.app()
    return RoutedTransport(
        {
            "/api/users": auth_app,
            "/api/tickets": double,
            "/api/orders": double,
            "/api/payments": double,
            "/api/query": double,
            "/healthz": double,
        }
    )


@pytest.fixture
async def client_app(
    client_settings: ClientSettings, upstreams: httpx.AsyncBaseTransport
) -> AsyncIterator[ASGIApp]:
    async with LifespanManager(create_app(client_settings, upstreams)) as manager:
        yield manager.app


@pytest.fixture
async def new_browser(client_app: ASGIApp) -> AsyncIterator[BrowserFactory]:
    """Opens browsers on the client, each with its own cookies."""
    opened: list[Browser] = []

    def open_browser() -> Browser:
        opened.append(Browser.on(httpx.ASGITransport(app=client_app)))
        return opened[-1]

    yield open_browser
    for browser in opened:
        await browser.aclose()


@pytest.fixture
def browser(new_browser: BrowserFactory) -> Browser:
    return new_browser()
