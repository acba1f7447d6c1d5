"""Rebuilding the read model (``python -m ticketing.query rebuild``): the last snapshot plus
the events after it, so it works however long ago the oldest events aged out of the stream.

The tables are emptied, the rows of the last snapshot are loaded (``snapshot.py``: each row
reflects every event up to the snapshot's checkpoint), listings' derived columns recomputed,
and the events after the checkpoint replayed, in stream order, through the live handlers
(``listeners.SUBSCRIPTIONS``). Without a snapshot that is every event from the first. An event
that comes before its predecessor (``EventOutOfOrder``) is kept aside and retried after every
event that applies, until it applies or nothing progresses any more (then it is reported as
unresolved). If events after the checkpoint have aged out already (no snapshot for longer than
the stream keeps events), the rebuild refuses (``HistoryLostError``) and changes nothing.

Why this is safe while the service runs: the whole rebuild is **one database transaction**
holding the read model's lock exclusively (``locks.lock_exclusively``), which every live
handler takes shared before anything else (``locks.py``). So:
- pages keep reading the old rows (MVCC) until the rebuilt ones are committed, all at once;
- live handlers wait for the rebuild, then run on the rebuilt rows: an event the rebuild
  replayed is recorded in ``processed_events`` by it, so the live copy is dropped as a
  duplicate; an event published after the rebuild read the stream applies on top as usual;
  one the snapshot covers was acked already, so it is not delivered again;
- a failing rebuild rolls back and leaves the old read model untouched.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import sqlalchemy as sa
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from ticketing.common.bus import Bus
from ticketing.common.db import (
    banned_users,
    create_migration_engine,
    create_sessionmaker,
    processed_events,
    run_migrations,
)
from ticketing.common.events import Event, UnknownEventError, parse_event
from ticketing.common.revocation import with_session_subscriptions
from ticketing.common.uow import UnitOfWork
from ticketing.common.versions import EventOutOfOrder
from ticketing.query.config import QuerySettings
from ticketing.query.listeners import SUBSCRIPTIONS, derive_listing_state
from ticketing.query.locks import lock_exclusively
from ticketing.query.models import Base, Listing
from ticketing.query.snapshot import StateNames, read_checkpoint, restore_rows

logger = logging.getLogger("ticketing.query.rebuild")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The handlers the live consumer runs: the read model's, and common's for bans and sign-outs.
HANDLERS = {cls.TYPE: handler for cls, handler in with_session_subscriptions(SUBSCRIPTIONS).items()}


class HistoryLostError(RuntimeError):
    """Events after the last snapshot are no longer on the stream: a rebuild would lose them."""

    def __init__(self, through: int, first_seq: int) -> None:
        super().__init__(
            f"events {through + 1}..{first_seq - 1} aged out of the stream and no snapshot"
            f" covers them (the last one is through event {through}); the read model is"
            " unchanged. Snapshots must come more often than the stream's max age."
        )


@dataclass
class RebuildReport:
    restored: int = 0  # rows loaded from the snapshot
    through: int = 0  # the snapshot's checkpoint: events up to it were not replayed
    replayed: int = 0
    duplicates: int = 0  # the same event id more than once on the stream
    unknown: int = 0  # messages that are not events this code knows (skipped)
    unresolved: list[Event] = field(default_factory=list)  # early, predecessor never came


async def rebuild_read_model(settings: QuerySettings) -> RebuildReport:
    """Replace the read model by the snapshot and the events after it, in one transaction."""
    engine = create_migration_engine(settings.database_url)
    bus = Bus(settings.nats_url, settings.bus_namespace)
    try:
        await run_migrations(engine, MIGRATIONS_DIR)
        await bus.connect()
        async with UnitOfWork(create_sessionmaker(engine), namespace=settings.bus_namespace) as uow:
            await lock_exclusively(uow.session)
            # The checkpoint before the rows: rows of a later snapshot only reflect more.
            checkpoint = await read_checkpoint(bus, StateNames(bus.names.namespace))
            through = checkpoint.through if checkpoint else 0
            await _ensure_history_after(bus, through)
            await _empty_read_model(uow)
            replay = Replay(uow)
            replay.report.through = through
            replay.report.restored = await restore_rows(bus, uow.session)
            for listing in (await uow.session.scalars(sa.select(Listing))).all():
                await derive_listing_state(uow.session, listing)
            async for raw in stream_payloads(bus, settings, after=through):
                await replay.offer(raw)
            await uow.commit()
        for event in replay.report.unresolved:
            logger.warning(
                "unresolved %s %s: its predecessor is not on the stream", event.type, event.id
            )
        return replay.report
    finally:
        await bus.close()
        await engine.dispose()


async def _empty_read_model(uow: UnitOfWork) -> None:
    for table in [*Base.metadata.sorted_tables, banned_users, processed_events]:
        await uow.session.execute(sa.delete(table))


async def _ensure_history_after(bus: Bus, through: int) -> None:
    state = (await bus.js.stream_info(bus.names.stream)).state
    if state.last_seq > through and state.first_seq > through + 1:
        raise HistoryLostError(through, state.first_seq)


async def stream_payloads(bus: Bus, settings: QuerySettings, *, after: int) -> AsyncIterator[bytes]:
    """Every message on the stream after sequence ``after`` up to its last one at call time,
    oldest first (an ephemeral consumer, nothing to acknowledge)."""
    names = bus.names
    state = (await bus.js.stream_info(names.stream)).state
    if state.messages == 0 or state.last_seq <= after:
        return
    subscription = await bus.js.pull_subscribe(
        f"{names.namespace}.>",
        stream=names.stream,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=after + 1,
            inactive_threshold=60,
        ),
    )
    try:
        done, first = False, True
        while not done:
            messages = await subscription.fetch(
                settings.rebuild_batch_size, timeout=settings.rebuild_fetch_timeout_seconds
            )
            for message in messages:
                metadata = message.metadata
                if first and metadata.sequence.stream > after + 1:
                    await _ensure_history_after(bus, after)  # aged out since we looked?
                first = False
                yield message.data
                done = metadata.sequence.stream >= state.last_seq or metadata.num_pending == 0
    finally:
        await subscription.unsubscribe()


class Replay:
    """Applies events through the live handlers, holding early ones until they fit."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._seen: set[UUID] = set()
        self.report = RebuildReport()

    async def offer(self, raw: bytes) -> None:
        try:
            event = parse_event(raw)
        except UnknownEventError:
            self.report.unknown += 1
            return
        if await self._apply(event):
            await self._retry_early()
        else:
            self.report.unresolved.append(event)

    async def _retry_early(self) -> None:
        progressed = True
        while progressed and self.report.unresolved:
            progressed = False
            for event in list(self.report.unresolved):
                if await self._apply(event):
                    self.report.unresolved.remove(event)
                    progressed = True

    async def _apply(self, event: Event) -> bool:
        """True once the event is handled (applied, or a duplicate); False while it is early."""
        if event.id in self._seen:
            self.report.duplicates += 1
            return True
        try:
            async with self._uow.session.begin_nested():
                await HANDLERS[event.type](event, self._uow)
        except EventOutOfOrder:
            return False
        await self._uow.mark_processed(event)
        self._seen.add(event.id)
        self.report.replayed += 1
        return True
