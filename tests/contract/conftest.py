"""Fixtures of the contract tests: the SSR client in front of the real platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ticketing.client.app import create_app as create_client_app
from ticketing.client.config import ClientSettings

if TYPE_CHECKING:
    from platform_testing import Platform


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
