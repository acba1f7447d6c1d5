"""/readyz fails when the process cannot really use NATS, or when its event consumer or
outbox relay has stopped making progress, not only when a connection is closed (DESIGN §10).
The faults are real: a NATS server of the test's own frozen with SIGSTOP, a publishing lock
held by another PostgreSQL session."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketing.common.background import cancel_until_done
from ticketing.common.bus import Bus
from ticketing.common.health import Dependency, bus_answers, probe_app, progressing, stalled
from ticketing.common.outbox import RELAY_LOCK_ID, OutboxRelay
from ticketing.testkit.embedded import EmbeddedNats
from ticketing.testkit.http import eventually


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats").start()
    yield server
    server.thaw()  # a frozen server ignores SIGTERM
    server.stop()


@pytest.fixture
async def own_bus(own_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    bus = Bus(own_nats.url, f"frozen_{uuid4().hex[:8]}")
    await bus.connect(attempts=1)
    yield bus
    await bus.close()


def probes(*dependencies: Dependency) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=probe_app("probes", dependencies))
    return httpx.AsyncClient(transport=transport, base_url="http://probes", timeout=30)


async def test_readyz_names_nats_while_the_server_is_frozen_and_recovers_after(
    own_nats: EmbeddedNats, own_bus: Bus
) -> None:
    async with probes(Dependency("NATS", bus_answers(own_bus))) as client:
        assert (await client.get("/readyz")).status_code == 200

        own_nats.freeze()
        try:
            started = time.monotonic()
            frozen = await client.get("/readyz")
            waited = time.monotonic() - started
            assert own_bus.is_connected  # the socket is open: only a round trip tells
        finally:
            own_nats.thaw()

        async def ready_again() -> None:
            response = await client.get("/readyz")
            assert (response.status_code, response.json()) == (200, {"status": "ready"})

        await eventually(ready_again, timeout=30)

    assert frozen.status_code == 503
    assert frozen.json() == {"errors": [{"message": "NATS is not reachable"}]}
    assert waited < 10  # the check's own deadline (2 s), not the client's


def test_a_loop_that_finished_a_turn_within_the_threshold_has_not_stalled() -> None:
    assert not stalled(last_progress=100.0, now=159.0, threshold=60.0)
    assert not stalled(last_progress=100.0, now=160.0, threshold=60.0)


def test_a_loop_without_a_finished_turn_for_longer_than_the_threshold_has_stalled() -> None:
    assert stalled(last_progress=100.0, now=160.5, threshold=60.0)


async def test_readyz_says_which_loop_has_stalled() -> None:
    long_ago = time.monotonic() - 120
    async with probes(
        Dependency("Consumer progress", progressing("The event consumer", lambda: long_ago, 60)),
        Dependency("Relay progress", progressing("The outbox relay", time.monotonic, 60)),
    ) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"errors": [{"message": "The event consumer has stalled"}]}


async def marks_progress_from_now(relay: OutboxRelay) -> None:
    """Wait until ``relay`` marks progress (what its readiness check reads) after this moment."""
    since = time.monotonic()

    async def marked() -> None:
        assert relay.last_progress > since

    await eventually(marked, timeout=30)


async def test_a_relay_waiting_for_another_relays_lock_is_progressing_and_one_stuck_is_not(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], own_bus: Bus
) -> None:
    relay = OutboxRelay(sessionmaker, own_bus, poll_seconds=0.1)
    constructed = relay.last_progress
    async with engine.connect() as other_relay:
        await other_relay.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": RELAY_LOCK_ID})
        publishing = asyncio.create_task(relay.publish_pending())
        try:
            await marks_progress_from_now(relay)
            assert not publishing.done()  # the progress is its waiting for the lock
        finally:
            await other_relay.execute(
                sa.text("SELECT pg_advisory_unlock(:k)"), {"k": RELAY_LOCK_ID}
            )
        await asyncio.wait_for(publishing, timeout=30)

    # A batch alone is not a turn of the loop: the relay is as stale as it was built.
    assert relay.last_progress == constructed
    running = asyncio.create_task(relay.run())
    try:
        await marks_progress_from_now(relay)  # a turn of the loop
    finally:
        await cancel_until_done([running])
