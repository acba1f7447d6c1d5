from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import uuid4

import httpx
import pytest
import sqlalchemy as sa

from ticketing.common.bus import Bus
from ticketing.common.db import create_migration_engine, processed_events
from ticketing.common.events import UserCreated, UserCreatedData
from ticketing.common.testing.events import publish_event
from ticketing.common.testing.http import eventually, running_app
from ticketing.query.app import create_app
from ticketing.query.config import QuerySettings


@pytest.fixture
async def query_settings(
    service_settings: Callable[[str], Awaitable[dict[str, Any]]],
) -> QuerySettings:
    return QuerySettings(**await service_settings("query"))


@pytest.fixture
async def client(query_settings: QuerySettings, bus: Bus) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(query_settings)) as client:
        await consumer_is_running(query_settings, bus)
        yield client


async def consumer_is_running(settings: QuerySettings, bus: Bus) -> None:
    """Wait until the app's consumer has handled a marker event.

    Stopping the app while its consumer's very first fetch is being answered can lose the
    cancellation (Python 3.11 ``asyncio.wait_for`` inside nats-py), and shutdown then hangs
    until the lifespan timeout; a consumer past that first fetch stops cleanly.
    """
    marker = UserCreated(data=UserCreatedData(id=uuid4(), email="marker@example.com"))
    await publish_event(bus, marker)
    engine = create_migration_engine(settings.database_url)

    async def handled() -> None:
        async with engine.connect() as conn:
            found = await conn.scalar(
                sa.select(processed_events.c.event_id).where(
                    processed_events.c.event_id == marker.id
                )
            )
        assert found is not None

    try:
        await eventually(handled)
    finally:
        await engine.dispose()
