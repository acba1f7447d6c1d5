"""Talking to a service app in tests: run it (lifespan included), sign in, wait for things."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar
from uuid import UUID, uuid4

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from starlette.types import ASGIApp

from ticketing.common.auth import SESSION_COOKIE, CurrentUser, KeyPair, sign_session_token

T = TypeVar("T")


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Start ``app`` (migrations, bus, consumers) and yield a client talking to it in-process."""
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def new_client_like(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A second browser on the same app: same transport, its own cookies."""
    return httpx.AsyncClient(transport=client._transport, base_url=client.base_url)


def sign_in_as(
    client: httpx.AsyncClient, keys: KeyPair, user: CurrentUser | None = None
) -> CurrentUser:
    """Give ``client`` a valid session cookie, as the auth service would; returns the user."""
    user = user or CurrentUser(id=uuid4(), email=f"user-{uuid4().hex[:8]}@example.com")
    client.cookies.set(SESSION_COOKIE, sign_session_token(user, keys.private_pem))
    return user


def assert_refused(
    response: httpx.Response, status: int, message: str, *, field: str | None = None
) -> None:
    """The contract's refusal: ``status`` and ``{"errors": [{"message": message}]}``, the
    error naming ``field`` when the refusal is about one input field."""
    assert response.status_code == status, response.text
    error = {"message": message} if field is None else {"message": message, "field": field}
    assert response.json() == {"errors": [error]}


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 30.0, interval: float = 0.05
) -> T:
    """Await ``check`` until it stops raising AssertionError, or fail with its last error.

    The deadline tells a hang from a wait, not fast from slow (``make bench`` measures speed):
    on a busy 2-core CI machine the platform has taken six times as long to start as here."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(interval)


class RoutedTransport(httpx.AsyncBaseTransport):
    """One transport in front of several in-process apps, routed by path prefix like the
    ingress: lets a test talk to "the platform" (or the SSR client talk to its upstreams)."""

    def __init__(self, apps_by_prefix: dict[str, ASGIApp]) -> None:
        by_length = sorted(apps_by_prefix.items(), key=lambda item: len(item[0]), reverse=True)
        self._routes = [
            (prefix, httpx.ASGITransport(app=app, raise_app_exceptions=False))
            for prefix, app in by_length
        ]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        for prefix, transport in self._routes:
            if prefix == "/" or path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return await transport.handle_async_request(request)
        return httpx.Response(404, json={"errors": [{"message": "Not found"}]})


TEST_PASSWORD = "correct horse battery"


async def sign_up(client: httpx.AsyncClient, email: str | None = None) -> CurrentUser:
    """Sign up through the real auth service behind ``client``; the client keeps the session
    cookie, so it is an authenticated client from then on."""
    email = email or f"user-{uuid4().hex[:10]}@example.com"
    response = await client.post(
        "/api/users/signup", json={"email": email, "password": TEST_PASSWORD}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return CurrentUser(id=UUID(body["id"]), email=body["email"])
