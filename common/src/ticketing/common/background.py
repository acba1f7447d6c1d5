"""Running a service's background loops: kept alive through crashes, stopped for sure."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

logger = logging.getLogger("ticketing.service")

SUPERVISE_RESET_SECONDS = 60  # a loop that ran this long before crashing starts over at 0.5 s


async def supervise(name: str, loop: Callable[[], Awaitable[None]]) -> None:
    """Keep a background loop alive: a crash is logged and the loop restarted with backoff
    (reset once it ran a while, so a crash a day later is not retried 30 s late)."""
    delay = 0.5
    while True:
        started = time.monotonic()
        try:
            await loop()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            if time.monotonic() - started >= SUPERVISE_RESET_SECONDS:
                delay = 0.5
            logger.exception("Background loop %s crashed; restarting in %.1fs", name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30)


async def cancel_until_done(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Cancel until stopped: on Python 3.11 ``asyncio.wait_for`` (inside nats-py requests and
    fetches) swallows a cancellation that arrives with the reply, so one cancel() can be lost."""
    while pending := [task for task in tasks if not task.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.2)
    await asyncio.gather(*tasks, return_exceptions=True)
