"""Async SQLAlchemy plumbing and the tables every service's database carries.

The infrastructure tables (outbox, processed events, bans, revoked sessions, idempotency keys)
live on their own ``MetaData``, and are migrated once, here: ``migrations/versions`` beside this
module is the Alembic branch ``infrastructure``, which every service upgrades next to its own
history (its ``migrations/versions``). A change to a table here is a new revision on that branch
(``down_revision`` its head); each service keeps its own ``DeclarativeBase`` for its domain
tables. A service revision that touches an infrastructure table names the infrastructure
revision it needs in ``depends_on``: the two branches are otherwise applied in no set order.
"""

from __future__ import annotations

import ast
import asyncio
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, NullPool, QueuePool

infrastructure = sa.MetaData()

outbox = sa.Table(
    "outbox",
    infrastructure,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("published_at", sa.DateTime(timezone=True)),
    # Where the event came from, sent on as NATS headers (correlation.py): X-Request-ID and
    # the W3C trace context of the transaction that wrote the row. Null for older rows.
    sa.Column("request_id", sa.String(128)),
    sa.Column("traceparent", sa.String(64)),
    sa.Index("outbox_unpublished", "seq", postgresql_where=sa.text("published_at IS NULL")),
)

processed_events = sa.Table(
    "processed_events",
    infrastructure,
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column(
        "handled_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

banned_users = sa.Table(
    "banned_users",
    infrastructure,
    sa.Column("user_id", sa.Uuid, primary_key=True),
    sa.Column(
        "banned_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

revoked_sessions = sa.Table(
    "revoked_sessions",
    infrastructure,
    sa.Column("session_id", sa.Uuid, primary_key=True),  # the token's jti
    sa.Column("user_id", sa.Uuid, nullable=False),
    # The token's exp: past it the token is refused anyway, so the row is pruned.
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("revoked_sessions_expires_at", "expires_at"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    infrastructure,
    sa.Column("user_id", sa.Uuid, primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("scope", sa.String(100), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    # NULL while the first request holding the key is still running (claimed, no answer yet)
    sa.Column("status_code", sa.Integer),
    sa.Column("body", JSONB),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)


POOL_RECYCLE_SECONDS = 1800
"""A pooled connection is replaced after this long, before any server or proxy idle timeout."""
IDLE_PING_SECONDS = 2.0
"""A connection back in the pool for longer than this is pinged before it is handed out."""
POOL_SHRINK_SECONDS = 10.0
"""A pool keeps open as many connections as it had in use at once within about this long
(between one and two such periods), at least one; the rest are closed (``ShrinkingPool``)."""


def table_of(model: type[Any]) -> sa.Table:
    """The table of a mapped class, for the writes an event or a request runs (``INSERT``,
    ``UPDATE``, ``DELETE``). A statement on the mapped class itself goes through the ORM's
    bulk-persistence layer on every execution, though nothing of it reaches the session:
    ~850 µs of CPU for a transaction of one such insert against ~520 µs for the same insert
    on its table (``benchmarks/analysis.md``, fix 33). Reads stay on the mapped class."""
    table = model.__table__
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not mapped to one table")
    return table


def bound(table: Any, *columns: str) -> dict[str, sa.BindParameter[Any]]:
    """``{column: bindparam}`` for ``.values()`` of a statement built once at import, its
    values given at each execution (``session.execute(STATEMENT, {column: value})``).
    SQLAlchemy memoises a statement's cache key on the statement object: one rebuilt per call
    pays its construction and cache key again, about twice what running it costs
    (``benchmarks/analysis.md``, fix 17). ``table``: a Table or a mapped class."""
    columns_of = sa.inspect(table).columns
    return {name: sa.bindparam(name, type_=columns_of[name].type) for name in columns}


class _BusiestRecently:
    """The most connections in use at once in the current period and the one before it."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._started = time.monotonic()
        self._current = self._previous = 0

    def saw(self, in_use: int) -> None:
        self._roll()
        self._current = max(self._current, in_use)

    def most(self) -> int:
        self._roll()
        return max(self._current, self._previous)

    def _roll(self) -> None:
        elapsed = time.monotonic() - self._started
        if elapsed >= self.period:
            self._previous = self._current if elapsed < 2 * self.period else 0
            self._current, self._started = 0, time.monotonic()


class ShrinkingPool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio pool, closing the connections it no longer needs.

    The queue pool keeps every connection it opened, up to ``pool_size``: the tasks of a
    service's start (migrations, relay, consumer, the refusals' load, the sampler) or one
    burst left it holding connections it never used again, each a PostgreSQL backend of its
    own (~17 MiB, and a slot of ``max_connections`` that replicas share). This one closes a
    connection as it comes back while more are open than were in use at once lately
    (``POOL_SHRINK_SECONDS``), as the queue pool closes an overflow connection. It hands out
    the longest-idle connection first (FIFO, the default), so every idle one comes back to
    be judged within a few checkouts; steady load keeps what it uses."""

    # ``shrink_after`` is not keyword-only: create_engine hands a pool class the arguments
    # its ``__init__`` names, and does not see keyword-only ones.
    def __init__(self, creator: Any, shrink_after: float = POOL_SHRINK_SECONDS, **kw: Any) -> None:
        super().__init__(creator, **kw)
        self._busiest = _BusiestRecently(shrink_after)

    def _do_get(self) -> ConnectionPoolEntry:
        record = super()._do_get()
        self._busiest.saw(self.checkedout())
        return record

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        open_connections = self.checkedout() + self._pool.qsize()  # ``record`` among them
        if open_connections <= max(1, self._busiest.most()):
            super()._do_return_conn(record)
            return
        try:
            record.close()
        finally:
            self._dec_overflow()

    def recreate(self) -> QueuePool:
        """After a disconnect (``dispose``): a new pool with the same period."""
        pool = super().recreate()
        assert isinstance(pool, ShrinkingPool)
        pool._busiest = _BusiestRecently(self._busiest.period)
        return pool


def create_engine(
    url: str, *, pool_size: int = 10, shrink_after: float = POOL_SHRINK_SECONDS
) -> AsyncEngine:
    """The service's pool. No ping on every checkout (``pool_pre_ping`` cost a BEGIN/SELECT/
    ROLLBACK on each, three round trips per transaction under load): only a connection that sat
    idle for ``IDLE_PING_SECONDS`` is pinged, so a busy pool never pings and a pool that lived
    through a database restart finds its dead connections before a request does. One that dies
    while in use fails its transaction as a disconnect, which invalidates the whole pool
    (every older connection is replaced on its next checkout) and answers 503 / holds the
    event (``failures.is_transient``); the retry is the client's or the consumer's."""
    engine = create_async_engine(
        url,
        poolclass=ShrinkingPool,
        pool_size=pool_size,
        max_overflow=20,
        pool_recycle=POOL_RECYCLE_SECONDS,
        shrink_after=shrink_after,  # ShrinkingPool's own argument
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool

    @sa.event.listens_for(pool, "checkin")
    def returned(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["returned_at"] = time.monotonic()

    @sa.event.listens_for(pool, "checkout")
    def handed_out(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # whatever the driver raises for a dead socket
            raise sa.exc.DisconnectionError("idle connection is gone") from exc
        if not alive:
            raise sa.exc.DisconnectionError("idle connection is gone")


def create_migration_engine(url: str) -> AsyncEngine:
    return create_async_engine(url, poolclass=NullPool)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


MIGRATION_LOCK_ID = 7_240_117  # any constant: serialises replicas migrating at once
_MIGRATING_IN_THIS_PROCESS = asyncio.Lock()  # Alembic's `context` is process-global
INFRASTRUCTURE_VERSIONS = Path(__file__).parent / "migrations" / "versions"


async def run_migrations(engine: AsyncEngine, migrations_dir: Path) -> None:
    """Upgrade the service's database to the heads of its history and the infrastructure's;
    safe when several replicas start together (and when several services start in one
    process, as in the cross-service tests). A database at a revision these migrations do not
    know is refused with what to do, before anything runs.

    A database that records exactly the heads the revision files declare has nothing
    pending: then Alembic is not even imported (every service starts so, and Alembic stays
    ~8 MiB of each process once loaded: ``benchmarks/analysis.md``, fix 23). Anything else,
    and any revision file that does not declare its ids plainly, goes to Alembic."""
    async with _MIGRATING_IN_THIS_PROCESS, engine.connect() as conn:
        if await conn.run_sync(_at_declared_heads, migrations_dir):
            await conn.rollback()
            return
        from ticketing.common import alembic_history  # a migration is pending, or may be

        await conn.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        try:
            await conn.run_sync(alembic_history.upgrade, migrations_dir)
            await conn.commit()
        finally:
            await conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            await conn.commit()


async def unknown_revisions(engine: AsyncEngine, migrations_dir: Path) -> list[str]:
    """The revisions the database records that ``migrations_dir`` and the infrastructure
    branch do not have: it was migrated by a newer build, or by a history since rewritten."""
    from ticketing.common import alembic_history

    async with engine.connect() as conn:
        return await conn.run_sync(alembic_history.unknown, migrations_dir)


def version_directories(migrations_dir: Path) -> tuple[Path, Path]:
    """Where a service's revisions are: its own history's and the ``infrastructure`` branch."""
    return migrations_dir / "versions", INFRASTRUCTURE_VERSIONS


def declared_heads(migrations_dir: Path) -> set[str] | None:
    """The heads of a service's histories as its revision files declare them (each file's
    literal ``revision`` and ``down_revision``, read with ``ast``, not imported): the
    revisions no other names as its parent. None if a file declares them otherwise, and then
    only Alembic can tell. ``tests/integration/test_migrations.py`` checks these are
    Alembic's heads for every service."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for directory in version_directories(migrations_dir):
        for path in sorted(directory.glob("*.py")):
            declared = _declared_ids(path)
            if declared is None:
                return None
            revision, down_revision = declared
            revisions.add(revision)
            parents.update(down_revision)
    return revisions - parents


def _declared_ids(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """A revision file's ``revision`` and its parents (``down_revision``: none, one or a
    merge's several), if both are plain literals."""
    values: dict[str, object] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            try:
                values[target.id] = ast.literal_eval(value)
            except ValueError:  # computed: only Alembic can tell
                return None
    revision, parents = values.get("revision"), values.get("down_revision", ...)
    if not isinstance(revision, str):
        return None
    if parents is None:
        return revision, ()
    if isinstance(parents, str):
        return revision, (parents,)
    if isinstance(parents, tuple | list) and all(isinstance(p, str) for p in parents):
        return revision, tuple(parents)
    return None


def _at_declared_heads(connection: Connection, migrations_dir: Path) -> bool:
    heads = declared_heads(migrations_dir)
    if heads is None or connection.scalar(sa.text("SELECT to_regclass('alembic_version')")) is None:
        return False
    recorded = set(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))
    return recorded == heads
