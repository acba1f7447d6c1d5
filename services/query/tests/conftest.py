from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from ticketing.query.app import create_app
from ticketing.query.config import QuerySettings
from ticketing.testkit.http import running_app


@pytest.fixture
async def query_settings(
    service_settings: Callable[[str], Awaitable[dict[str, Any]]],
) -> QuerySettings:
    return QuerySettings(**await service_settings("query"))


@pytest.fixture
async def client(query_settings: QuerySettings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(query_settings)) as client:
        yield client
