"""The pytest plugin (loaded with ``-p ticketing.testkit.fixtures``): real servers.

Once per test session it starts PostgreSQL, NATS JetStream and Redis on free loopback ports in
a temp dir (or uses ``TEST_DATABASE_URL`` / ``TEST_NATS_URL`` / ``TEST_REDIS_URL``). Each test
gets fresh databases and its own bus namespace (stream + subjects), so tests never see each
other's rows or events and nothing needs wiping.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from ticketing.common.auth import KeyPair, generate_key_pair
from ticketing.common.bus import Bus
from ticketing.testkit.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedRedis
from ticketing.testkit.http import running_app

DatabaseFactory = Callable[[str], Awaitable[str]]


@dataclass(frozen=True)
class Infrastructure:
    database_admin_url: str  # asyncpg-style URL of a database we may CREATE DATABASE from
    nats_url: str
    redis_url: str
    tmp_dir: Path


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_database(admin_url: str, name: str) -> str:
    head, _, tail = admin_url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    # Not tmp_path_factory: pytest prunes old numbered temp dirs when another session starts,
    # which would pull the data dir from under a server that a parallel session still runs.
    root = Path(tempfile.mkdtemp(prefix="ticketing-test-"))
    stoppers: list[Callable[[], None]] = [lambda: shutil.rmtree(root, ignore_errors=True)]
    try:
        database_url = os.environ.get("TEST_DATABASE_URL")
        if not database_url:
            postgres = EmbeddedPostgres(root / "pg")
            stoppers.append(postgres.stop)
            database_url = postgres.url("postgres")
        nats_url = os.environ.get("TEST_NATS_URL")
        if not nats_url:
            nats = EmbeddedNats(root / "nats").start()
            stoppers.append(nats.stop)
            nats_url = nats.url
        redis_url = os.environ.get("TEST_REDIS_URL")
        if not redis_url:
            redis = EmbeddedRedis(root / "redis").start()
            stoppers.append(redis.stop)
            redis_url = redis.url
        yield Infrastructure(
            database_admin_url=database_url.replace("postgresql://", "postgresql+asyncpg://", 1),
            nats_url=nats_url,
            redis_url=redis_url,
            tmp_dir=root,
        )
    finally:
        for stop in reversed(stoppers):
            stop()


@pytest.fixture(scope="session")
def jwt_keys() -> KeyPair:
    return generate_key_pair()


@pytest.fixture
def own_postgres(infrastructure: Infrastructure) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of this test's own, which it may shut down and start again (a real
    outage of one service's database while the others keep theirs)."""
    server = EmbeddedPostgres(infrastructure.tmp_dir / f"pg-{uuid4().hex[:8]}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bus_namespace() -> str:
    """A namespace of its own per test: its own stream, subjects and durable consumers."""
    return f"t{uuid4().hex[:12]}"


@pytest.fixture
async def new_database(infrastructure: Infrastructure) -> AsyncIterator[DatabaseFactory]:
    """Creates empty databases for this test (named after the service) and drops them after."""
    created: list[str] = []
    admin = _libpq(infrastructure.database_admin_url)

    async def create(service: str) -> str:
        name = f"{service}_{uuid4().hex[:12]}"
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        created.append(name)
        return _with_database(infrastructure.database_admin_url, name)

    yield create
    conn = await asyncpg.connect(admin)
    try:
        for name in created:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def service_settings(
    infrastructure: Infrastructure,
    new_database: DatabaseFactory,
    bus_namespace: str,
    jwt_keys: KeyPair,
) -> Callable[[str], Awaitable[dict[str, Any]]]:
    """Keyword arguments every service's Settings takes in tests, with a fresh database.

    Short polling and backoff keep tests fast without changing any behaviour.
    """

    async def make(service: str) -> dict[str, Any]:
        return {
            **bus_settings_for_tests(infrastructure, bus_namespace),
            "database_url": await new_database(service),
            "jwt_public_key": jwt_keys.public_pem,
            "outbox_poll_seconds": 0.2,
        }

    return make


def bus_settings_for_tests(infrastructure: Infrastructure, namespace: str) -> dict[str, Any]:
    """Keyword arguments every process on the bus takes in tests (``BusSettings``): this
    test's namespace, quick retries, and small stream caps — JetStream reserves each stream's
    cap, and every test brings its own streams."""
    return {
        "environment": "test",
        "nats_url": infrastructure.nats_url,
        "bus_namespace": namespace,
        "consumer_backoff_seconds": [0.05, 0.1, 0.2, 0.3, 0.5],
        "bus_max_bytes": 64 * 1024 * 1024,
        "bus_dlq_max_bytes": 16 * 1024 * 1024,
    }


def worker_settings_for_tests(infrastructure: Infrastructure, namespace: str) -> dict[str, Any]:
    """``bus_settings_for_tests`` plus what a worker has: Redis, and its probe server on a
    free loopback port."""
    return {
        **bus_settings_for_tests(infrastructure, namespace),
        "redis_url": infrastructure.redis_url,
        "health_host": "127.0.0.1",
        "health_port": 0,
    }


@pytest.fixture
async def bus(infrastructure: Infrastructure, bus_namespace: str) -> AsyncIterator[Bus]:
    """A connection to this test's bus namespace (the same one ``service_settings`` uses)."""
    connection = Bus(infrastructure.nats_url, bus_namespace)
    await connection.connect()
    yield connection
    await connection.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the service under test (the ``app`` its tests' conftest builds), once it
    runs: migrated, on the bus, its consumers and loops started; stopped after the test."""
    async with running_app(app) as client:
        yield client
