"""Every service's database is migrated to exactly its models: its own history and the
infrastructure branch of ``ticketing.common.db``, on a fresh database as on one made before
that branch existed; a database at a revision the build does not have is refused, saying so,
and ``make dev`` names it before starting anything. A database with nothing pending is
started on without importing Alembic, and one with something pending is still upgraded."""

import asyncio
import importlib
import subprocess
import sys
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

from ticketing.common.alembic_history import migration_config
from ticketing.common.db import (
    create_migration_engine,
    declared_heads,
    infrastructure,
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


@pytest.mark.parametrize("service", SERVICES)
def test_the_heads_the_revision_files_declare_are_alembics(service: str) -> None:
    assert declared_heads(migrations_of(service)) == heads_of(service)


def _loads_alembic_starting_on(url: str, service: str) -> bool:
    """Whether a fresh interpreter that runs ``service``'s migrations on ``url`` (as the
    service does at start) loads Alembic."""
    probe = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from ticketing.common.db import create_migration_engine, run_migrations\n"
        f"engine = create_migration_engine({url!r})\n"
        f"asyncio.run(run_migrations(engine, Path({str(migrations_of(service))!r})))\n"
        "print('alembic' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip() == "True"


async def test_a_service_starting_on_a_migrated_database_does_not_load_alembic(
    new_database: DatabaseFactory,
) -> None:
    url = await new_database("orders")

    first_start = await asyncio.to_thread(_loads_alembic_starting_on, url, "orders")
    next_start = await asyncio.to_thread(_loads_alembic_starting_on, url, "orders")

    assert first_start  # there was a migration to run
    assert not next_start  # nothing pending: Alembic never imported


async def test_a_database_one_revision_behind_is_still_upgraded(
    database: Callable[[str], Awaitable[AsyncEngine]],
) -> None:
    engine = await database("orders")
    async with engine.begin() as conn:
        await conn.run_sync(
            lambda sync: command.upgrade(migration_config(migrations_of("orders"), sync), "0001")
        )

    await run_migrations(engine, migrations_of("orders"))

    assert await revisions(engine) == heads_of("orders")
