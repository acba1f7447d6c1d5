"""Every service's database is migrated to exactly its models: its own history and the
infrastructure branch of ``ticketing.common.db``, on a fresh database as on one made before
that branch existed; a database at a revision the build does not have is refused, saying so,
and ``make dev`` names it before starting anything."""

import asyncio
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ticketing.common.db import (
    create_migration_engine,
    infrastructure,
    migration_config,
    run_migrations,
)
from ticketing.devstack.databases import migrations_of, stale_databases, stale_message

SERVICES = ("auth", "tickets", "orders", "payments", "query", "notifications")
# Revisions deleted when the infrastructure tables moved to common (their work is in
# infrastructure_0001): a new revision under one of these ids would be taken as applied by a
# database that ran the old one.
RETIRED = {
    "auth": {"0004"},
    "tickets": {"0003"},
    "orders": {"0003", "0004"},
    "payments": {"0004"},
    "query": {"0002"},
}
DatabaseFactory = Callable[[str], Awaitable[str]]


def drift(connection: Connection, service: str) -> list[Any]:
    """What autogenerate would change: the database against the service's models."""
    models = importlib.import_module(f"ticketing.{service}.models").Base.metadata
    expected = sa.MetaData()
    for table in (*models.tables.values(), *infrastructure.tables.values()):
        table.to_metadata(expected)
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, expected))


def heads_of(service: str) -> set[str]:
    """The revisions a fully migrated database of ``service`` records."""
    return set(ScriptDirectory.from_config(migration_config(migrations_of(service))).get_heads())


def infrastructure_head() -> str:
    """The newest revision of common's ``infrastructure`` branch (the outbox and friends)."""
    return next(head for head in heads_of("notifications") if head.startswith("infrastructure_"))


async def revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        return set(rows.scalars())


@pytest.fixture
async def database(
    new_database: DatabaseFactory,
) -> AsyncIterator[Callable[[str], Awaitable[AsyncEngine]]]:
    engines: list[AsyncEngine] = []

    async def make(service: str) -> AsyncEngine:
        engines.append(create_migration_engine(await new_database(service)))
        return engines[-1]

    yield make
    for engine in engines:
        await engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_a_fresh_database_is_migrated_to_exactly_the_models(
    database: Callable[[str], Awaitable[AsyncEngine]], service: str
) -> None:
    engine = await database(service)

    await run_migrations(engine, migrations_of(service))

    async with engine.connect() as conn:
        assert await conn.run_sync(drift, service) == []
    heads = heads_of(service)
    assert await revisions(engine) == heads  # its own head and the infrastructure's
    assert infrastructure_head() in heads


def _made_by_the_old_first_revision(connection: Connection) -> None:
    """notifications' database as its 0001 left it when that revision still created the
    infrastructure tables: their first shape, with an event waiting in the outbox."""
    config = migration_config(migrations_of("notifications"), connection)
    command.upgrade(config, "0001")
    for table in infrastructure.sorted_tables:
        if table.name != "revoked_sessions":  # came later
            table.create(connection)
    connection.execute(sa.text("ALTER TABLE idempotency_keys ALTER status_code SET NOT NULL"))
    connection.execute(
        sa.text(
            "INSERT INTO outbox (event_id, subject, payload) "
            "VALUES (gen_random_uuid(), 'user.created', 'x')"
        )
    )


async def test_a_database_whose_first_revision_made_the_infrastructure_tables_upgrades(
    database: Callable[[str], Awaitable[AsyncEngine]],
) -> None:
    engine = await database("notifications")
    async with engine.begin() as conn:
        await conn.run_sync(_made_by_the_old_first_revision)

    await run_migrations(engine, migrations_of("notifications"))

    async with engine.connect() as conn:
        assert await conn.run_sync(drift, "notifications") == []
        assert await conn.scalar(sa.text("SELECT count(*) FROM outbox")) == 1
    assert await revisions(engine) == {"0001", infrastructure_head()}


async def migrated_by_a_newer_build(engine: AsyncEngine, service: str, *, revision: str) -> None:
    """``service``'s database as a newer build left it: at a revision this build lacks."""
    await run_migrations(engine, migrations_of(service))
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "UPDATE alembic_version SET version_num = :revision "
                "WHERE version_num NOT LIKE 'infrastructure%'"
            ),
            {"revision": revision},
        )


async def test_a_database_at_a_revision_the_build_does_not_have_is_refused_saying_what_to_do(
    database: Callable[[str], Awaitable[AsyncEngine]],
) -> None:
    engine = await database("auth")
    await migrated_by_a_newer_build(engine, "auth", revision="0004_gone")

    with pytest.raises(RuntimeError, match="make dev-reset") as refusal:
        await run_migrations(engine, migrations_of("auth"))

    assert "0004_gone" in str(refusal.value)
    assert await revisions(engine) == {"0004_gone", infrastructure_head()}


async def test_make_dev_names_the_databases_it_cannot_migrate_and_the_fix(
    new_database: DatabaseFactory,
) -> None:
    urls = {service: await new_database(service) for service in ("auth", "query")}
    engine = create_migration_engine(urls["query"])
    try:
        await migrated_by_a_newer_build(engine, "query", revision="0099")
    finally:
        await engine.dispose()

    stale = await asyncio.to_thread(stale_databases, urls)  # as make dev calls it: no loop

    assert stale == {"query": ["0099"]}  # auth's empty database is fine: it will be migrated
    assert "query at 0099" in stale_message(stale, Path(".dev"))
    assert "make dev-reset" in stale_message(stale, Path(".dev"))


@pytest.mark.parametrize("service", sorted(RETIRED))
def test_no_revision_reuses_an_id_retired_when_the_infrastructure_moved_to_common(
    service: str,
) -> None:
    scripts = ScriptDirectory.from_config(migration_config(migrations_of(service)))

    assert not RETIRED[service] & {script.revision for script in scripts.walk_revisions()}
