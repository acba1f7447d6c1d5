from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ticketing.common.db import banned_users, create_migration_engine, processed_events
from ticketing.query.app import create_app
from ticketing.query.config import QuerySettings
from ticketing.query.models import Base
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


Rows = dict[str, list[tuple[Any, ...]]]


@pytest.fixture
def read_model(query_settings: QuerySettings) -> Callable[[], Awaitable[Rows]]:
    """Every row of the read model by table (bans and processed events without their
    wall-clock time), to compare a rebuilt read model with the live one."""
    selects = {t.name: sa.select(t) for t in Base.metadata.sorted_tables}
    selects["banned_users"] = sa.select(banned_users.c.user_id)
    selects["processed_events"] = sa.select(
        processed_events.c.event_id, processed_events.c.event_type
    )

    async def read() -> Rows:
        engine = create_migration_engine(query_settings.database_url)
        try:
            # One consistent snapshot: under READ COMMITTED each SELECT would see a different
            # moment and a handler committing in between would make "all applied" lie.
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="REPEATABLE READ")
                return {
                    name: sorted(tuple(row) for row in await conn.execute(select))
                    for name, select in selects.items()
                }
        finally:
            await engine.dispose()

    return read
