"""The rolling restart with a changed subscription set: a newer build of notifications
(``newer_build``) deployed beside the running one while every older replica restarts."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid

import sqlalchemy as sa
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import create_async_engine

from faults.devplatform import WORKERS, DevPlatform
from faults.load import Load, awaited
from faults.newer_build import NEW_EVENT, start_newer_replica, until_ready
from faults.record import RECOVERY_TIMEOUT, FaultRecord, connected
from ticketing.common.bus import Bus
from ticketing.common.db import processed_events
from ticketing.common.durable import filter_subjects
from ticketing.testkit.embedded import free_port

NEWER_DURABLE = "notifications"
NEWER_EVENTS_AWAITED = 3  # of the new type, published while both builds run


async def rolling_restart(dev: DevPlatform, load: Load, record: FaultRecord) -> None:
    """A rolling update whose newer build of notifications subscribes to one more event type
    (``newer_build``): its first replica starts beside the two older ones and widens their
    shared durable; then every older replica of every service is restarted, one replica of a
    service at a time (an older replica starting after the newer one must not narrow the
    durable again); then the newer build's second replica starts. The older replicas get the
    new type's messages too and must leave them to the newer ones: every one published from
    then on ends up handled by notifications, and none is dead-lettered (the final check)."""
    ports = [free_port(), free_port()]
    first = start_newer_replica(dev, ports[0])
    record.notes.append(
        f"newer build, replica 1: ready in {await until_ready(first, ports[0]):.1f}s"
    )
    async with connected(dev) as bus:
        since = (await bus.js.stream_info(bus.names.stream)).state.last_seq

    async def roll(service: str) -> float:
        return sum([await dev.restarted(replica, signal.SIGTERM) for replica in dev.of(service)])

    took = await asyncio.gather(*(roll(service) for service in WORKERS))
    record.notes += [f"{s}: rolled in {t:.1f}s" for s, t in zip(WORKERS, took, strict=True)]
    second = start_newer_replica(dev, ports[1])
    record.notes.append(
        f"newer build, replica 2: ready in {await until_ready(second, ports[1]):.1f}s"
    )
    async with connected(dev) as bus:
        subject = bus.names.subject(NEW_EVENT.TYPE)
        info = await bus.js.consumer_info(bus.names.stream, NEWER_DURABLE)
    if subject not in filter_subjects(info.config):
        record.problems.append(f"the older replicas removed {subject} from {NEWER_DURABLE}")
        return
    tally = {"published": 0, "handled": 0}

    async def handled_by_the_newer_build() -> bool:
        published, handled = await newer_events(dev, since)
        tally.update(published=len(published), handled=len(handled))
        return len(published) >= NEWER_EVENTS_AWAITED and handled == published

    try:
        await awaited(handled_by_the_newer_build, timeout=RECOVERY_TIMEOUT)
    except AssertionError:
        record.problems.append(
            f"{tally['handled']} of the {tally['published']} {NEW_EVENT.TYPE} published while "
            f"both builds ran were handled within {RECOVERY_TIMEOUT}s"
        )
        return
    record.notes.append(
        f"{tally['published']} {NEW_EVENT.TYPE} published while both builds ran, every one "
        f"handled by the newer build; {NEWER_DURABLE} still delivers {subject}"
    )


async def newer_events(dev: DevPlatform, since: int) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """The events of the new type the stream got after sequence ``since``, and those of them
    notifications has handled."""
    async with connected(dev) as bus:
        published = set(await events_on(bus, bus.names.subject(NEW_EVENT.TYPE), after=since))
    engine = create_async_engine(dev.database_urls["notifications"])
    try:
        async with engine.connect() as connection:
            handled = await connection.scalars(
                sa.select(processed_events.c.event_id).where(
                    processed_events.c.event_id.in_(published)
                )
            )
            return published, set(handled)
    finally:
        await engine.dispose()


async def events_on(bus: Bus, subject: str, *, after: int) -> list[uuid.UUID]:
    """The ids of the events the stream holds on ``subject`` after sequence ``after``."""
    ids: list[uuid.UUID] = []
    seq = after + 1
    while True:
        try:
            message = await bus.js.get_msg(bus.names.stream, seq=seq, subject=subject, next=True)
        except NotFoundError:
            return ids
        ids.append(uuid.UUID(json.loads(message.data or b"{}")["id"]))
        seq = (message.seq or seq) + 1
