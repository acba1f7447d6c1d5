"""A service's background loops (event consumers, the outbox relay, the dead-letter backstop)
running for the length of a test's block, then stopped as the service's shutdown stops them:
cancelled until done (``background.cancel_until_done``: one cancel() can be lost on Python
3.11), so no task outlives the test that started it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from ticketing.common.background import cancel_until_done


class Loop(Protocol):
    async def run(self) -> None: ...


class Subscriber(Loop, Protocol):
    async def subscribe(self) -> Any: ...


@asynccontextmanager
async def running(*loops: Loop) -> AsyncIterator[None]:
    """Each loop's ``run()`` as a task while the block runs."""
    tasks = [asyncio.create_task(loop.run()) for loop in loops]
    try:
        yield
    finally:
        await cancel_until_done(tasks)


@asynccontextmanager
async def consuming(*subscribers: Subscriber) -> AsyncIterator[None]:
    """Each subscriber subscribed (its durable exists before the block starts), then running."""
    for subscriber in subscribers:
        await subscriber.subscribe()
    async with running(*subscribers):
        yield
