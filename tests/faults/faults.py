"""The faults, each done for real to the running ``make dev`` (signals, a stopped server, bytes
on the bus), and timed: how long the fault lasted and how long until every replica was ready
again and the load had placed and paid an order since.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as redis

from faults.devplatform import WORKERS, DevPlatform
from faults.load import Load, awaited
from faults.record import NAMESPACE, RECOVERY_TIMEOUT, FaultRecord, connected
from faults.rollout import rolling_restart

NATS_FREEZE_SECONDS = 10
KILL_INTERVAL_SECONDS = 3
POSTGRES_OUTAGE_SECONDS = 90
POSTGRES_RESTART_TIMEOUT = 60
POSTMASTER = "bin/postgres"  # in the postmaster's command line, not in its backends'
MALFORMED = b'{"id": "not json at all'
POISON = json.dumps(
    {
        "id": str(uuid.uuid4()),
        "type": "ticket.created",
        "occurredAt": "2026-01-01T00:00:00Z",
        "data": {"id": "not-a-uuid", "title": "", "price": -1, "userId": None, "version": -1},
    }
).encode()


async def recovered(dev: DevPlatform, load: Load) -> float:
    """Every replica ready, then one more order placed and one more payment made."""
    started = time.monotonic()
    await dev.ready(RECOVERY_TIMEOUT)

    async def the_load_gets_through() -> bool:
        return load.successes("order", started) > 0 and load.successes("pay", started) > 0

    await awaited(the_load_gets_through, timeout=RECOVERY_TIMEOUT)
    return time.monotonic() - started


async def kill_one_replica_of_each(dev: DevPlatform, load: Load, record: FaultRecord) -> None:
    """The first replica of each service and worker, one after another (a few seconds apart,
    not waiting for the last one to be back: a node losing its pods one by one)."""

    async def killed(service: str, after: float) -> float:
        await asyncio.sleep(after)  # the schedule of the fault, not a wait for a condition
        return await dev.restarted(dev.of(service)[0], signal.SIGKILL)

    took = await asyncio.gather(
        *(killed(service, KILL_INTERVAL_SECONDS * n) for n, service in enumerate(WORKERS))
    )
    record.notes += [f"{s}: back in {t:.1f}s" for s, t in zip(WORKERS, took, strict=True)]


async def freeze_nats(dev: DevPlatform, load: Load, record: FaultRecord) -> None:
    nats = dev.server("nats-server")
    nats.suspend()
    try:
        await asyncio.sleep(NATS_FREEZE_SECONDS)  # the fault itself: a hung NATS
    finally:
        nats.resume()


async def started_again(dev: DevPlatform, binary: str, old_pid: int, timeout: float) -> float:
    """Seconds until make dev runs a ``binary`` server again (not ``old_pid``); an
    AssertionError after ``timeout``."""

    async def restarted() -> bool:
        try:
            return bool(dev.server(binary).pid != old_pid)
        except LookupError:
            return False

    return await awaited(restarted, timeout=timeout)


async def kill_nats(dev: DevPlatform, load: Load, record: FaultRecord) -> None:
    old = dev.server("nats-server")
    old.kill()
    took = await started_again(dev, "nats-server", old.pid, timeout=30)
    record.notes.append(f"NATS started again by make dev in {took:.1f}s")


async def flush_redis(dev: DevPlatform, load: Load, record: FaultRecord) -> None:
    client = redis.Redis.from_url(dev.redis_url)
    try:
        keys = await client.dbsize()
        await client.flushall()
    finally:
        await client.aclose()
    record.notes.append(f"{keys} key(s) flushed (scheduled expirations among them)")


def _pg_ctl(pgdata: Path, *args: str) -> None:
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # made at import

    pg_ctl(list(args), pgdata=pgdata, user=pgdata.owner())


async def stop_postgres(dev: DevPlatform, load: Load, record: FaultRecord) -> None:
    """A planned outage, as scaling the database to zero: held first (``hold/postgres``, so
    make dev does not undo it), stopped, 90 s without a database, then the hold lifted: make
    dev itself must start it again."""
    old = dev.server(POSTMASTER)
    marker = dev.data_dir / "hold" / "postgres"
    marker.parent.mkdir(exist_ok=True)
    marker.touch()
    try:
        await asyncio.to_thread(_pg_ctl, dev.data_dir / "postgres", "-w", "stop", "-m", "fast")
        await asyncio.sleep(POSTGRES_OUTAGE_SECONDS)  # the fault itself: no database at all
        if _running(dev, POSTMASTER):
            record.problems.append("make dev started PostgreSQL again while it was held")
    finally:
        marker.unlink()
    took = await started_again(dev, POSTMASTER, old.pid, timeout=POSTGRES_RESTART_TIMEOUT)
    record.notes.append(f"held for the outage; make dev started it {took:.1f}s after the hold")


async def kill_postgres(dev: DevPlatform, load: Load, record: FaultRecord) -> None:
    """SIGKILL of the postmaster (its backends linger a moment, its shared memory and
    ``postmaster.pid`` stay behind): make dev starts it again, with crash recovery."""
    old = dev.server(POSTMASTER)
    old.kill()
    took = await started_again(dev, POSTMASTER, old.pid, timeout=POSTGRES_RESTART_TIMEOUT)
    record.notes.append(f"PostgreSQL started again by make dev in {took:.1f}s")


def _running(dev: DevPlatform, binary: str) -> bool:
    try:
        dev.server(binary)
    except LookupError:
        return False
    return True


async def publish_poison_and_malformed(dev: DevPlatform, load: Load, record: FaultRecord) -> None:
    async with connected(dev) as bus:
        await bus.js.publish(f"{NAMESPACE}.ticket.created", POISON)
        await bus.js.publish(f"{NAMESPACE}.order.created", MALFORMED)
    record.notes.append("poison: a ticket.created no schema accepts; malformed: not JSON")


async def replay_query_from_the_start(dev: DevPlatform, load: Load, record: FaultRecord) -> None:
    """Query's durable consumer deleted, then query rolled: the first new replica creates it
    again from the first event, so query handles the whole stream a second time."""
    async with connected(dev) as bus:
        stream = bus.names.stream
        before = await bus.js.stream_info(stream)
        await bus.js.delete_consumer(stream, "query")
    for replica in dev.of("query"):
        await dev.restarted(replica, signal.SIGTERM)
    record.notes.append(f"query's durable deleted; {before.state.messages} event(s) replayed")


async def republish_tickets_outbox(dev: DevPlatform, load: Load, record: FaultRecord) -> None:
    """Every event tickets ever published, published again (consumers must dedupe)."""
    command = [sys.executable, "-m", "ticketing.common.outbox", "republish",
               "--since", "2000-01-01T00:00:00Z", "--database-url", dev.database_urls["tickets"],
               "--nats-url", dev.nats_url]  # fmt: skip
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    record.notes.append(done.stdout.strip())


Fault = Callable[[DevPlatform, Load, FaultRecord], Awaitable[None]]
FAULTS: list[tuple[str, str, Fault]] = [
    ("kill -9", "SIGKILL of one replica of each service and worker, one after another",
     kill_one_replica_of_each),
    ("NATS frozen", f"SIGSTOP of nats-server for {NATS_FREEZE_SECONDS}s, then SIGCONT",
     freeze_nats),
    ("NATS killed", "SIGKILL of nats-server; make dev starts it again", kill_nats),
    ("Redis flushed", "FLUSHALL: every scheduled expiration lost", flush_redis),
    ("PostgreSQL down", f"held (hold/postgres) and pg_ctl stop, {POSTGRES_OUTAGE_SECONDS}s "
     "without a database, the hold lifted: make dev starts it again", stop_postgres),
    ("PostgreSQL killed", "SIGKILL of the postmaster; make dev starts it again", kill_postgres),
    ("poison and malformed", "two bad messages published on the bus",
     publish_poison_and_malformed),
    ("rolling restart", "a newer build of notifications (one more event type) started beside "
     "the older one, every older replica restarted one replica of a service at a time, "
     "the newer build's second replica started",
     rolling_restart),
    ("replay (consumer)", "query's durable deleted and re-created from the first event",
     replay_query_from_the_start),
    ("replay (producer)", "outbox republish --since 2000: tickets' whole history again",
     republish_tickets_outbox),
]  # fmt: skip
