from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

from ticketing.auth.app import create_app
from ticketing.auth.config import AuthSettings
from ticketing.common.auth import KeyPair
from ticketing.testkit.http import running_app

AuthApp = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def auth_settings(
    service_settings: Callable[[str], Awaitable[dict[str, Any]]], jwt_keys: KeyPair
) -> AuthSettings:
    return AuthSettings(**await service_settings("auth"), jwt_private_key=jwt_keys.private_pem)


@pytest.fixture
async def client(auth_settings: AuthSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(auth_settings)) as client:
        yield client


@pytest.fixture
def auth_app(auth_settings: AuthSettings) -> AuthApp:
    """``async with auth_app(**overrides) as client``: an auth replica on this test's database,
    with some settings changed (e.g. ``admin_emails``, the sign-in limits)."""

    def start(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return running_app(create_app(auth_settings.model_copy(update=overrides)))

    return start
