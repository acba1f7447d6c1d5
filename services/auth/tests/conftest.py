from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from ticketing.auth.app import create_app
from ticketing.auth.config import AuthSettings
from ticketing.common.auth import KeyPair
from ticketing.common.testing.http import running_app


@pytest.fixture
async def auth_settings(
    service_settings: Callable[[str], Awaitable[dict[str, Any]]], jwt_keys: KeyPair
) -> AuthSettings:
    return AuthSettings(**await service_settings("auth"), jwt_private_key=jwt_keys.private_pem)


@pytest.fixture
async def client(auth_settings: AuthSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(auth_settings)) as client:
        yield client
