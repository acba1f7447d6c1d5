"""The outbox relay: moves committed outbox rows to JetStream and marks them published.

It wakes as soon as a unit of work commits and also polls, so rows committed by another
replica, or left behind while NATS was down, still go out. Rows are claimed with
``FOR UPDATE SKIP LOCKED`` so replicas share the work; a re-publish after a crash is
deduplicated by JetStream because ``Nats-Msg-Id`` is the event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.db import outbox

logger = logging.getLogger("ticketing.outbox")

# Published rows are kept a week (for inspection; far longer than JetStream's dedupe window),
# then pruned, so the table does not grow forever. The stream itself keeps the events.
RETENTION = timedelta(days=7)
PRUNE_EVERY_SECONDS = 3600


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
        """Publish one batch of unpublished rows; returns how many went out."""
        async with self._sessionmaker() as session, session.begin():
            rows = (
                await session.execute(
                    sa.select(outbox.c.seq, outbox.c.event_id, outbox.c.subject, outbox.c.payload)
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.seq)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            published: list[int] = []
            failure: Exception | None = None
            for row in rows:
                try:
                    await self._bus.publish(row.subject, row.payload, msg_id=str(row.event_id))
                except Exception as exc:
                    failure = exc
                    break
                published.append(row.seq)
            if published:
                # Keep what did go out, even when a later row failed.
                await session.execute(
                    sa.update(outbox)
                    .where(outbox.c.seq.in_(published))
                    .values(published_at=utcnow())
                )
        if failure is not None:
            raise failure
        return len(published)
