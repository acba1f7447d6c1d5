"""The fault suite (``make test-faults``, DESIGN §4): ``make dev`` with two replicas of every
service under a steady load, hurt one way after another for real, must end consistent.

It writes ``docs/reliability.md`` (the load, each fault with its timing, the figures, every
inconsistency found) and fails if there is any.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from faults.devplatform import DevPlatform, running_make_dev
from faults.faults import FAULTS, MALFORMED, POISON, recovered
from faults.load import Load, awaited
from faults.record import NAMESPACE, FaultRecord
from faults.report import Run, write
from ticketing.common.bus import Bus
from ticketing.common.dlq import list_dead_letters
from ticketing.devstack.processes import PAYMENT_GRACE_SECONDS
from ticketing.testkit.embedded import free_port
from ticketing.testkit.money_invariant import is_kept, sandbox_charges
from ticketing.testkit.platform_invariants import (
    Snapshot,
    paid_past_the_grace,
    platform_inconsistencies,
    read_platform,
    still_settling,
    unexpected_dead_letters,
)

pytestmark = [pytest.mark.faults, pytest.mark.integration]

WINDOW_SECONDS = 10
GRACE_SECONDS = float(PAYMENT_GRACE_SECONDS)  # make dev's, orders' and expiration's
WARM_UP_ORDERS = 5
CONVERGENCE_TIMEOUT = 150
INJECTED = {"poison": POISON.decode(), "malformed": MALFORMED.decode()}


async def dead_letters(dev: DevPlatform) -> Counter[str]:
    """Each consumer's dead letters by kind ("poison", "malformed" or the payload itself)."""
    bus = Bus(dev.nats_url, NAMESPACE)
    await bus.connect(attempts=1)
    try:
        letters = await list_dead_letters(bus)
    finally:
        await bus.close()
    kinds = {payload: kind for kind, payload in INJECTED.items()}
    return Counter(f"{letter.consumer}: {kinds.get(letter.payload, letter.payload[:120])}"
                   for letter in letters)  # fmt: skip


async def final_check(dev: DevPlatform, load: Load) -> tuple[Snapshot, list[str], Counter[str]]:
    snapshot = await read_platform(dev.database_urls)
    charges = await sandbox_charges(dev.sandbox_url)
    letters = await dead_letters(dev)
    problems = still_settling(snapshot) + platform_inconsistencies(
        snapshot, load.ledger, charges, grace_seconds=GRACE_SECONDS
    )
    payloads = [label.split(": ", 1)[1] for label in letters.elements()]
    problems += [f"unexpected dead letter: {p}"
                 for p in unexpected_dead_letters(payloads, INJECTED)]  # fmt: skip
    problems += [f"the {kind} message was dead-lettered by no consumer"
                 for kind in INJECTED if kind not in payloads]  # fmt: skip
    kept = Counter("kept" if is_kept(c) else "refunded" for c in charges)
    return snapshot, problems, kept


@pytest.mark.timeout(900)
async def test_make_dev_with_two_replicas_keeps_every_promise_through_every_fault() -> None:
    started = time.monotonic()
    with running_make_dev(free_port(), WINDOW_SECONDS) as dev:
        startup = time.monotonic() - started
        load = Load(dev.base_url)
        load_started = time.monotonic()
        working = asyncio.create_task(load.run())
        records: list[FaultRecord] = []
        try:
            await awaited(lambda: _paid(load, WARM_UP_ORDERS), timeout=120)
            for name, what, fault in FAULTS:
                record = FaultRecord(name, what, started=time.monotonic())
                await fault(dev, load, record)
                record.lasted = time.monotonic() - record.started
                record.recovered = await recovered(dev, load)
                records.append(record)
        finally:
            load.stopping.set()
            await working
        load_stopped = time.monotonic()

        async def converged() -> bool:
            return not (await final_check(dev, load))[1]

        try:
            converged_after: float | None = await awaited(converged, timeout=CONVERGENCE_TIMEOUT)
        except AssertionError:
            converged_after = None
        snapshot, problems, charges = await final_check(dev, load)
        problems += [
            f"{record.name}: {problem}" for record in records for problem in record.problems
        ]
        write(Run(started, load_started, load_stopped, time.monotonic(), startup,
                  WINDOW_SECONDS, records, load, snapshot, charges, await dead_letters(dev),
                  converged_after, problems, GRACE_SECONDS,
                  paid_past_the_grace(snapshot, load.ledger, GRACE_SECONDS)))  # fmt: skip
        # inside the block: a failure keeps make dev's data for a look (running_make_dev)
        assert problems == []
        assert len(load.ledger.payments) > WARM_UP_ORDERS  # the load really ran through it all


async def _paid(load: Load, at_least: int) -> bool:
    return len(load.ledger.payments) >= at_least
