"""What every fault shares: its record (timing, notes, problems) and a bus connection to the
platform under test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from faults.devplatform import DevPlatform
from ticketing.common.bus import Bus

RECOVERY_TIMEOUT = 180
NAMESPACE = "ticketing"


@dataclass
class FaultRecord:
    name: str
    what: str
    started: float = 0.0  # time.monotonic()
    lasted: float = 0.0  # seconds the fault itself was in place
    recovered: float = 0.0  # seconds after it until ready and the load succeeded again
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # inconsistencies the fault itself saw


@asynccontextmanager
async def connected(dev: DevPlatform) -> AsyncIterator[Bus]:
    bus = Bus(dev.nats_url, NAMESPACE)
    await bus.connect(attempts=1)
    try:
        yield bus
    finally:
        await bus.close()
