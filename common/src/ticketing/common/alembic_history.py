"""Alembic's side of a service's migrations: its configuration, the upgrade, the revisions
it knows, and the body of every service's ``migrations/env.py``.

Imported only when a migration may be pending (``db.run_migrations`` answers "nothing to do"
without it) or when asked about (``db.unknown_revisions``, Alembic's own commands): a service
that starts on a migrated database never loads Alembic.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from ticketing.common.db import create_migration_engine, infrastructure, version_directories


def migration_config(migrations_dir: Path, connection: Connection | None = None) -> Config:
    """Alembic's configuration for a service: its ``env.py`` and both version directories,
    its own and the ``infrastructure`` branch (so ``heads`` means both)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    for separator in ("path_separator", "version_path_separator"):  # Alembic >= 1.16, older
        config.set_main_option(separator, "os")
    versions = version_directories(migrations_dir)
    config.set_main_option("version_locations", os.pathsep.join(map(str, versions)))
    config.attributes["connection"] = connection
    return config


def unknown(connection: Connection, migrations_dir: Path) -> list[str]:
    """The revisions the database records that these migrations do not have."""
    scripts = ScriptDirectory.from_config(migration_config(migrations_dir))
    known = {script.revision for script in scripts.walk_revisions()}
    current = MigrationContext.configure(connection).get_current_heads()
    return [revision for revision in current if revision not in known]


def upgrade(connection: Connection, migrations_dir: Path) -> None:
    """To the heads, on ``connection`` (the caller holds the migration lock)."""
    if revisions := unknown(connection, migrations_dir):
        raise RuntimeError(
            f"The database is at revision {', '.join(revisions)}, which the migrations in "
            f"{migrations_dir} do not have: a newer build migrated it (run that build), or "
            "its history was rewritten (in development: `make dev-reset` wipes make dev's data)."
        )
    command.upgrade(migration_config(migrations_dir, connection), "heads")


def run_alembic_env(metadata: sa.MetaData) -> None:
    """The body of every service's ``migrations/env.py``, given the service's own tables (the
    infrastructure tables are added: every service's database has them).

    In the service the connection is handed in (see ``run_migrations``); run by Alembic's
    commands without one (``command.revision(migration_config(dir), autogenerate=True)``), it
    connects to ``$DATABASE_URL``.
    """
    connection: Connection | None = context.config.attributes.get("connection")
    targets = [metadata, infrastructure]
    if connection is not None:
        _run_online(connection, targets)
        return
    url = os.environ["DATABASE_URL"]

    async def run() -> None:
        engine = create_migration_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(_run_online, targets)
        await engine.dispose()

    asyncio.run(run())


def _run_online(connection: Connection, metadata: list[sa.MetaData]) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
