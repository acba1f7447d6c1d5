"""``make dev`` checks, before starting anything, that this checkout can migrate the databases
kept in ``$TICKETING_DATA_DIR``: one migrated by a history since rewritten (or by a newer
checkout) is at a revision these migrations do not have, and every service would crash-loop on
it. Saying so once, with the fix, beats six restarting tracebacks.

make dev runs the check in a short-lived process of its own (``python -m
ticketing.devstack.databases``): SQLAlchemy and Alembic then never load into the supervisor,
which lives as long as the platform (~35 MB of RSS it would keep for nothing)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from collections.abc import Mapping
from pathlib import Path


def migrations_of(service: str) -> Path:
    """The service's ``migrations`` directory, found without importing the service."""
    spec = importlib.util.find_spec(f"ticketing.{service}")
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"ticketing.{service} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "migrations"


async def _unknown(database_urls: Mapping[str, str]) -> dict[str, list[str]]:
    from ticketing.common.db import create_migration_engine, unknown_revisions

    found: dict[str, list[str]] = {}
    for service, url in database_urls.items():
        engine = create_migration_engine(url)
        try:
            if unknown := await unknown_revisions(engine, migrations_of(service)):
                found[service] = unknown
        finally:
            await engine.dispose()
    return found


def stale_databases(database_urls: Mapping[str, str]) -> dict[str, list[str]]:
    """The services whose database is at revisions this checkout does not have, with them."""
    return asyncio.run(_unknown(database_urls))


async def stale_databases_checked_apart(database_urls: Mapping[str, str]) -> dict[str, list[str]]:
    """``stale_databases`` in a process of its own (what make dev's supervisor calls)."""
    check = await asyncio.create_subprocess_exec(
        sys.executable, "-m", __name__, json.dumps(dict(database_urls)),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await check.communicate()
    if check.returncode != 0:
        raise RuntimeError(f"the migration check of the databases failed ({check.returncode})")
    stale: dict[str, list[str]] = json.loads(out)
    return stale


def stale_message(stale: Mapping[str, list[str]], data_dir: Path) -> str:
    listed = "; ".join(f"{service} at {', '.join(revs)}" for service, revs in stale.items())
    return (
        f"make dev: the databases in {data_dir} were migrated by a history this checkout does "
        f"not have ({listed}). Run `make dev-reset` (it wipes the data of make dev; "
        "`make dev-seed` brings the demo data back), then `make dev`."
    )


if __name__ == "__main__":
    print(json.dumps(stale_databases(json.loads(sys.argv[1]))))
