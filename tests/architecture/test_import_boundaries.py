"""What importing a module really loads.

- The rules are pure by rule, not by habit: importing a service's ``domain`` (or the error
  hierarchy it raises) loads no web framework, no ORM and no client of our infrastructure.
- A process without a database (the expiration worker, the client) loads no database
  library: not importing SQLAlchemy and Alembic saves each ~28 MiB of memory and ~0.3 s of
  start-up CPU (``benchmarks/analysis.md``, fix 21). A ``common`` module that reaches for
  SQLAlchemy at import time, rather than where a database is used, fails it; likewise the
  client, which has no bus, loads no NATS client.
- No service loads ``cryptography``: sessions are signed and verified with libsodium.

``lint-imports`` (``make lint``) checks the import graph statically; this checks what Python
really loads, in a fresh interpreter per module, so an import hidden behind a package's
``__init__`` or a third party's own imports cannot slip through.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IO_LIBRARIES = {
    "fastapi",
    "starlette",
    "sqlalchemy",
    "httpx",
    "nats",
    "asyncpg",
    "redis",
    "arq",
    "stripe",
    "aiosmtplib",
}
DATABASE_LIBRARIES = {"sqlalchemy", "alembic", "asyncpg"}
KNOWN_DOMAINS = {
    "ticketing.auth.domain",
    "ticketing.tickets.domain",
    "ticketing.orders.domain",
    "ticketing.payments.domain",
    "ticketing.query.domain",
    "ticketing.client.domain",
    "ticketing.notifications.domain",
}


def domain_modules() -> list[str]:
    """Every ``services/<svc>/src/ticketing/<svc>/domain.py``, as a module name."""
    paths = sorted(REPO.glob("services/*/src/ticketing/*/domain.py"))
    return [f"ticketing.{path.parent.name}.domain" for path in paths]


def top_level_modules_loaded_by(module: str) -> set[str]:
    probe = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(result.stdout))


def test_every_service_with_rules_has_its_domain_module_checked() -> None:
    assert set(domain_modules()) >= KNOWN_DOMAINS


@pytest.mark.parametrize("module", [*domain_modules(), "ticketing.common.errors"])
def test_importing_the_rules_loads_no_io_library(module: str) -> None:
    loaded = top_level_modules_loaded_by(module)

    assert loaded & IO_LIBRARIES == set()


@pytest.mark.parametrize("module", ["ticketing.expiration.worker", "ticketing.client.app"])
def test_a_process_without_a_database_loads_no_database_library(module: str) -> None:
    loaded = top_level_modules_loaded_by(module)

    assert loaded & DATABASE_LIBRARIES == set()


def test_the_client_which_has_no_bus_loads_no_bus_library() -> None:
    """nats-py is ~6 MiB of a process (and with it aiohttp, where installed)."""
    loaded = top_level_modules_loaded_by("ticketing.client.app")

    assert "nats" not in loaded


SERVICE_APPS = [
    f"ticketing.{path.parent.name}.app"
    for path in sorted(REPO.glob("services/*/src/ticketing/*/app.py"))
]


@pytest.mark.parametrize("module", SERVICE_APPS)
def test_no_service_loads_cryptography_to_sign_or_verify_sessions(module: str) -> None:
    """Sessions are signed and verified with libsodium (``common.auth``): ``cryptography``'s
    Rust library was ~9 MiB of every process that verifies a cookie (fix 32). The runtime
    lock holds no cryptography at all (``tests/deploy``); here, where the tests' PyJWT has it
    installed, the expiration worker's Redis client (through PyJWT) would load it."""
    loaded = top_level_modules_loaded_by(module)

    assert "cryptography" not in loaded


def test_the_probe_sees_cryptography_where_it_is_loaded() -> None:
    """PyJWT loads ``cryptography`` whenever it is installed (the tests' reference library)."""
    assert "cryptography" in top_level_modules_loaded_by("jwt")


def test_a_service_with_a_database_loads_them() -> None:
    """The probe sees what it claims to: the same check on a service with a database (its
    driver, asyncpg, is loaded when the engine is made, and Alembic only when a migration
    may be pending: ``tests/integration/test_migrations.py``)."""
    loaded = top_level_modules_loaded_by("ticketing.orders.app")

    assert "sqlalchemy" in loaded
