"""The outbox relay: moves committed outbox rows to JetStream and marks them published.

It wakes as soon as a unit of work commits and also polls, so rows committed by another
replica, or left behind while NATS was down, still go out. A re-publish after a crash is
deduplicated by JetStream because ``Nats-Msg-Id`` is the event id. Each message carries the
request id and trace context its row was written with, as NATS headers (DESIGN §10).

**One relay publishes at a time, per database** (DESIGN §4 "Any number of replicas"). Each
batch runs in a transaction holding the advisory lock ``RELAY_LOCK_ID``: a second relay waits
for it, then reads what is still unpublished. Sharing rows instead (``SKIP LOCKED``) let one
replica publish an aggregate's version 2 while another still held version 1. A relay that dies
mid-batch loses its connection, so PostgreSQL ends its transaction and frees the lock. The next
relay then publishes the rows the dead one had not marked, in order. Any of them that did reach
the stream are deduplicated by their ``Nats-Msg-Id``.

**A batch goes out at once, each aggregate's rows in order.** The publishes of different
aggregates (``aggregates.py``) are in flight together and their acks awaited together; a row
waits for the ack of the row before it of the same aggregate, so its events reach the stream in
commit order. When a publish fails, the rows behind it of its aggregate are not published and
nothing of it is marked; other aggregates' rows that went out are marked. The next batch starts
again from the oldest row not marked.

``python -m ticketing.common.outbox republish --since T`` (``DATABASE_URL``, ``NATS_URL`` and
``BUS_NAMESPACE`` from the environment, run once per service database) publishes again, in
order, every row published at or after ``T``. Use it when the stream lost messages it had
acknowledged (e.g. NATS restored from an older state). Rows are kept ``RETENTION``, so ``T``
must be within that. The copies go out under fresh message ids, ``<event id>:republished:<run>``.
The event's own id would be dropped by JetStream's dedupe window, and the point is that they
arrive. Consumers skip an event they already handled (``processed_events``, the version
rule), so the command is safe to run even for events that did arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.aggregates import Keys, aggregate_keys
from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.correlation import REQUEST_ID_HEADER
from ticketing.common.db import create_migration_engine, create_sessionmaker, outbox
from ticketing.common.lanes import Lanes
from ticketing.common.metrics import record_outbox_backlog

logger = logging.getLogger("ticketing.outbox")

# Published rows are kept a week (for inspection and ``republish``; far longer than
# JetStream's dedupe window), then pruned, so the table does not grow forever.
RETENTION = timedelta(days=7)
PRUNE_EVERY_SECONDS = 3600
RELAY_LOCK_ID = 7_240_118  # a bigint advisory lock per database; the migration lock is ..117
PUBLISHES_IN_FLIGHT = 100  # publishes awaiting their ack at once (a batch's, at most)

OutboxRow = sa.Row[Any, Any, Any, Any, Any, Any]  # seq, event_id, subject, payload, origin
ROW = (
    outbox.c.seq,
    outbox.c.event_id,
    outbox.c.subject,
    outbox.c.payload,
    outbox.c.request_id,
    outbox.c.traceparent,
)


# Built once, values bound per batch (``db.bound`` says why).
PUBLISHING_LOCK = sa.select(sa.func.pg_advisory_xact_lock(RELAY_LOCK_ID))
UNPUBLISHED = (
    sa.select(*ROW)
    .where(outbox.c.published_at.is_(None))
    .order_by(outbox.c.seq)
    .limit(sa.bindparam("batch_size", type_=sa.Integer))
)
MARK_PUBLISHED = (
    sa.update(outbox)
    .where(outbox.c.seq.in_(sa.bindparam("seqs", expanding=True)))
    .values(published_at=sa.bindparam("now", type_=outbox.c.published_at.type))
)


BACKLOG = sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(
    outbox.c.published_at.is_(None)
)


async def sample_backlog(service: str, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The metrics sampler's view of the outbox: how many rows wait, since when."""
    async with sessionmaker() as session:
        unpublished, oldest = (await session.execute(BACKLOG)).one()
    record_outbox_backlog(service, unpublished, oldest)


async def hold_publishing_lock(session: AsyncSession) -> None:
    """Wait until no other relay (or republish) of this database publishes, then hold that
    right until this transaction ends."""
    await session.execute(PUBLISHING_LOCK)


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        bus: Bus,
        *,
        poll_seconds: float = 1.0,
        batch_size: int = 100,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._bus = bus
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._next_prune = 0.0
        self._last_turn = time.monotonic()
        self._waiting_for_lock = False

    @property
    def last_progress(self) -> float:
        """``time.monotonic()`` of the last batch it finished (one that found nothing counts),
        for readiness. While it waits for the publishing lock, now: that lock is held by
        another relay or a ``republish``, and waiting for them is this relay's job."""
        return time.monotonic() if self._waiting_for_lock else self._last_turn

    def notify(self) -> None:
        """Called after a commit that wrote outbox rows: publish them now, not at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            try:
                published = await self.publish_pending()
                failures = 0
                self._last_turn = time.monotonic()
            except Exception as exc:
                failures += 1
                logger.warning("Outbox relay could not publish (%s); retrying", exc)
                await asyncio.sleep(min(0.2 * 2**failures, 5))
                continue
            if published == self._batch_size:
                continue
            if time.monotonic() >= self._next_prune:
                self._next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                await self.prune_published()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)

    async def prune_published(self, older_than: timedelta = RETENTION) -> int:
        """Delete rows published more than ``older_than`` ago; returns how many."""
        async with self._sessionmaker() as session, session.begin():
            result = await session.execute(
                sa.delete(outbox).where(outbox.c.published_at < utcnow() - older_than)
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished rows, oldest first; returns how many went out."""
        async with self._sessionmaker() as session, session.begin():
            self._waiting_for_lock = True
            try:
                await hold_publishing_lock(session)
            finally:
                self._waiting_for_lock = False
            batch = {"batch_size": self._batch_size}
            rows = (await session.execute(UNPUBLISHED, batch)).all()
            published, failure = await _publish(self._bus, rows, msg_id=lambda row: row.event_id)
            if published:
                # Keep what did go out, even when a later row failed.
                await session.execute(MARK_PUBLISHED, {"seqs": published, "now": utcnow()})
        if failure is not None:
            raise failure
        return len(published)


async def _publish(
    bus: Bus, rows: Sequence[OutboxRow], *, msg_id: Callable[[OutboxRow], object]
) -> tuple[list[int], Exception | None]:
    """Publish rows with their acks awaited together, yet each aggregate's in order: a row
    goes out only once the row before it of the same aggregate (``aggregates.py``) was acked,
    and an aggregate stops at its first failure (a later row must never overtake an earlier
    one, nor be marked while an earlier one is not). Returns the seqs that went out, in
    order, and the first failure."""
    lanes = Lanes(PUBLISHES_IN_FLIGHT)
    published: list[int] = []
    stopped: set[str] = set()  # keys of aggregates whose earlier row failed in this batch
    failures: list[Exception] = []

    def sender(row: OutboxRow, keys: Keys) -> Callable[[], Awaitable[None]]:
        async def send() -> None:
            if keys & stopped:
                stopped.update(keys)  # what waits behind this row waits behind that one
                return
            try:
                await bus.publish(
                    row.subject, row.payload, msg_id=str(msg_id(row)), headers=_origin(row)
                )
            except Exception as exc:
                failures.append(exc)
                stopped.update(keys)
                return
            published.append(row.seq)

        return send

    try:
        for row in rows:
            keys = aggregate_keys(row.payload)
            lanes.submit(keys, sender(row, keys))
        await lanes.join()
    finally:
        await lanes.cancel()  # when cancelled itself: no publish outlives the batch
    return sorted(published), failures[0] if failures else None


def _origin(row: OutboxRow) -> dict[str, str]:
    """The NATS headers that continue the row's request and trace (``correlation``)."""
    headers = {REQUEST_ID_HEADER: row.request_id, "traceparent": row.traceparent}
    return {name: value for name, value in headers.items() if value}


async def republish_since(
    sessionmaker: async_sessionmaker[AsyncSession],
    bus: Bus,
    since: datetime,
    *,
    batch_size: int = 100,
) -> int:
    """Publish again, oldest first, every row published at or after ``since``; returns how
    many. Batches hold the relays' lock, so a running relay's new rows never interleave."""
    run = uuid4().hex[:12]
    async with sessionmaker() as session:
        # Rows the relay publishes meanwhile are new: they need no second copy, and chasing
        # them would never end under load.
        last_seq = await session.scalar(sa.select(sa.func.max(outbox.c.seq))) or 0
    after_seq, total = 0, 0
    while True:
        async with sessionmaker() as session, session.begin():
            await hold_publishing_lock(session)
            rows = (
                await session.execute(
                    sa.select(*ROW)
                    .where(outbox.c.published_at >= since)
                    .where(outbox.c.seq > after_seq, outbox.c.seq <= last_seq)
                    .order_by(outbox.c.seq)
                    .limit(batch_size)
                )
            ).all()
            published, failure = await _publish(
                bus, rows, msg_id=lambda row: f"{row.event_id}:republished:{run}"
            )
        total += len(published)
        if failure is not None:
            raise failure
        if len(rows) < batch_size:
            return total
        after_seq = rows[-1].seq


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (e.g. end it with Z)")
    return moment


async def run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ticketing.common.outbox")
    commands = parser.add_subparsers(dest="command", required=True)
    republish = commands.add_parser("republish", help="publish rows published since T again")
    republish.add_argument("--since", type=_aware, required=True, help="ISO-8601, with zone")
    republish.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    republish.add_argument(
        "--nats-url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    )
    republish.add_argument("--namespace", default=os.environ.get("BUS_NAMESPACE", "ticketing"))
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url or DATABASE_URL is required")
    engine = create_migration_engine(args.database_url)
    bus = Bus(args.nats_url, args.namespace)
    await bus.connect(attempts=1)
    try:
        count = await republish_since(create_sessionmaker(engine), bus, args.since)
        print(f"{count} event(s) republished since {args.since.isoformat()}")
    finally:
        await bus.close()
        await engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run_command(sys.argv[1:])))
