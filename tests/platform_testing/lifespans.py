"""Several apps' lifespans run in one process, started one by one and stopped together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from asgi_lifespan import LifespanManager
from fastapi import FastAPI


@asynccontextmanager
async def started_together(apps: Sequence[FastAPI]) -> AsyncIterator[None]:
    """Run the apps' lifespans (migrations, bus, consumers), each in a task of its own (anyio
    wants a lifespan entered and exited in one task), so that they all stop at once.

    They start one after the other: Alembic's ``context`` is process-global, so two services
    migrating at once in one process would run in each other's migration context."""
    stop = asyncio.Event()

    async def serve_until_stopped(app: FastAPI, ready: asyncio.Event) -> None:
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
            ready.set()
            await stop.wait()

    lifespans: list[asyncio.Task[None]] = []
    try:
        for app in apps:
            ready = asyncio.Event()
            lifespans.append(asyncio.create_task(serve_until_stopped(app, ready)))
            await _started(lifespans[-1], ready)
        yield
    finally:
        stop.set()
        outcomes = await asyncio.gather(*lifespans, return_exceptions=True)
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if failures:
        raise failures[0]


async def _started(lifespan: asyncio.Task[None], ready: asyncio.Event) -> None:
    """Wait until the app is up; its start-up error, if it failed instead."""
    readiness = asyncio.create_task(ready.wait())
    await asyncio.wait([lifespan, readiness], return_when=asyncio.FIRST_COMPLETED)
    readiness.cancel()
    if lifespan.done():
        lifespan.result()
