"""The read model's last state, kept in NATS, so a rebuild never needs the whole history.

The events stream keeps events for ``bus_max_age_seconds`` only (DESIGN §4, bounded), but the
read model is built from *every* event since the platform began. So query keeps a compacted
copy of its own tables in stream ``<NAMESPACE>_STATE`` (one message per subject):

- ``<namespace>-state.row.<table>.<key>``: one row of a fact table (listings, orders, payments,
  users, banned users), as JSON; a newer snapshot of the row replaces the older one.
- ``<namespace>-state.checkpoint``: ``through``, a stream sequence that every row reflects: all
  events up to it had been handled by the live consumer when the rows were read.

``take_snapshot`` (every ``snapshot_interval_seconds``, one replica at a time) reads
``through`` = the live durable's ack floor first (an event is acked only after its handler
committed), then every row in one REPEATABLE READ transaction (so the rows include those
events), publishes the rows, and the checkpoint last. ``rebuild.py`` reads the checkpoint,
then the rows, and replays the events after ``through``.

Why this is sound even if a snapshot dies half-way (rows of two snapshots mixed): every row
then reflects at least the previous checkpoint, which is still the one in the stream, and
replaying an event onto a row that already reflects it changes nothing (versions, inserts
once). Derived columns (a listing's status, ``updatedAt``) are recomputed after loading.

Why query snapshots its own rows rather than services publishing each aggregate's last state:
events do not carry full state (``order.cancelled`` has id, version, ticket only), and a
publish after a handler's commit can be lost in a crash, after which a stale last state would
silently win once its events aged out. Rows read from the database in one transaction are
always a consistent picture. The cost: one publish per row per interval.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus, ensure_stream
from ticketing.common.db import banned_users
from ticketing.common.service import ServiceRuntime
from ticketing.query.config import QuerySettings
from ticketing.query.models import Base

logger = logging.getLogger("ticketing.query.snapshot")

DURABLE = "query"  # the live consumer's durable: the service's name (app.py)
TABLES = {table.name: table for table in [*Base.metadata.sorted_tables, banned_users]}
"""Every fact the read model holds (processed events are not facts: see ``rebuild.py``)."""
SNAPSHOT_LOCK = 7_240_202  # one replica snapshots at a time
PUBLISH_BATCH = 256


@dataclass(frozen=True)
class StateNames:
    namespace: str

    @property
    def stream(self) -> str:
        return f"{self.namespace.upper()}_STATE"

    @property
    def rows(self) -> str:
        return f"{self.namespace}-state.row.>"

    @property
    def checkpoint(self) -> str:
        return f"{self.namespace}-state.checkpoint"

    def row(self, table: str, key: object) -> str:
        return f"{self.namespace}-state.row.{table}.{key}"


@dataclass(frozen=True)
class Checkpoint:
    through: int  # every row reflects all events up to this stream sequence
    rows: int
    taken_at: float  # unix time


async def ensure_state_stream(bus: Bus, max_bytes: int) -> StateNames:
    names = StateNames(bus.names.namespace)
    config = StreamConfig(
        name=names.stream,
        subjects=[f"{names.namespace}-state.>"],
        storage=StorageType.FILE,
        max_msgs_per_subject=1,
        # Never drop a row to make room: a full stream fails the snapshot, loudly.
        discard=DiscardPolicy.NEW,
        max_bytes=max_bytes,
        num_replicas=bus.stream_replicas,
    )
    fields = ("subjects", "max_msgs_per_subject", "discard", "max_bytes", "num_replicas")
    await ensure_stream(bus.js, config, fields)
    return names


async def snapshot_periodically(runtime: ServiceRuntime[QuerySettings, None]) -> None:
    """The background loop of every query replica; the lock and the age check keep it to
    about one snapshot per interval, whichever replica takes it."""
    settings = runtime.settings
    while True:
        await asyncio.sleep(settings.snapshot_interval_seconds)
        await take_snapshot(
            runtime.bus,
            runtime.sessionmaker,
            max_bytes=settings.state_max_bytes,
            fresh_for=settings.snapshot_interval_seconds / 2,
        )


async def take_snapshot(
    bus: Bus,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    max_bytes: int,
    fresh_for: float = 0,
) -> Checkpoint | None:
    """Snapshot the read model; None when skipped (nothing consumed yet, another replica
    is at it, or the last checkpoint is younger than ``fresh_for`` seconds)."""
    names = await ensure_state_stream(bus, max_bytes)
    last = await read_checkpoint(bus, names)
    if last is not None and time.time() - last.taken_at < fresh_for:
        return None
    try:
        through = (await bus.js.consumer_info(bus.names.stream, DURABLE)).ack_floor.stream_seq
    except NotFoundError:
        return None
    async with sessionmaker() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        # The first statement fixes the transaction's picture: after the ack floor was read.
        if not await session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(SNAPSHOT_LOCK))):
            return None
        rows = 0
        for name, table in TABLES.items():
            async for batch in _batches(session, table):
                await asyncio.gather(
                    *(
                        bus.js.publish(names.row(name, _key(table, row)), _encode(name, row))
                        for row in batch
                    )
                )
                rows += len(batch)
        checkpoint = Checkpoint(through=through, rows=rows, taken_at=time.time())
        await bus.js.publish(names.checkpoint, json.dumps(checkpoint.__dict__).encode())
    logger.info("Snapshot of the read model: %d rows, through event %d", rows, through)
    return checkpoint


async def read_checkpoint(bus: Bus, names: StateNames) -> Checkpoint | None:
    try:
        message = await bus.js.get_last_msg(names.stream, names.checkpoint)
    except NotFoundError:  # no snapshot yet (or no state stream at all)
        return None
    return Checkpoint(**json.loads(message.data or b"{}"))


async def restore_rows(bus: Bus, session: AsyncSession) -> int:
    """Insert every row of the state stream into the (emptied) tables; how many."""
    names = StateNames(bus.names.namespace)
    try:
        pending = (await bus.js.stream_info(names.stream)).state.messages
    except NotFoundError:
        return 0
    if pending == 0:
        return 0
    subscription = await bus.js.pull_subscribe(
        names.rows,
        stream=names.stream,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=60
        ),
    )
    restored = 0
    try:
        while True:
            messages = await subscription.fetch(PUBLISH_BATCH, timeout=5)
            by_table: dict[str, list[dict[str, Any]]] = {}
            for message in messages:
                table, row = _decode(message.data)
                by_table.setdefault(table, []).append(row)
            for table, rows in by_table.items():
                await session.execute(sa.insert(TABLES[table]), rows)
            restored += len(messages)
            if messages[-1].metadata.num_pending == 0:
                return restored
    finally:
        await subscription.unsubscribe()


async def _batches(session: AsyncSession, table: sa.Table) -> AsyncIterator[list[RowMapping]]:
    result = await session.stream(sa.select(table))
    async for partition in result.mappings().partitions(PUBLISH_BATCH):
        yield list(partition)


def _key(table: sa.Table, row: RowMapping) -> str:
    return ".".join(str(row[column.name]) for column in table.primary_key.columns)


def _encode(table: str, row: RowMapping) -> bytes:
    columns = {name: _jsonable(value) for name, value in row.items()}
    return json.dumps({"table": table, **columns}).encode()


def _jsonable(value: object) -> object:
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _decode(raw: bytes) -> tuple[str, dict[str, Any]]:
    payload = json.loads(raw)
    table = TABLES[payload.pop("table")]
    return table.name, {
        column.name: _parse(column, payload[column.name]) for column in table.columns
    }


def _parse(column: sa.Column[Any], value: Any) -> Any:
    if value is None:
        return None
    kind = column.type.python_type
    if kind in (UUID, Decimal):
        return kind(value)
    if kind is datetime:
        return datetime.fromisoformat(value)
    return value
