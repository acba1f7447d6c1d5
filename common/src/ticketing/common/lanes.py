"""Jobs run concurrently, except those that share a key: they run one after another, in the
order they were submitted (``aggregates.py`` says which keys an event has).

Each job waits for the last job submitted before it under each of its keys, then for one of
``concurrency`` slots. A job only ever waits for earlier ones, so no two can wait for each
other. A job with no keys waits for nothing but a slot. Used by the consumer (one job per
message) and the relay (one job per outbox row of a batch).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable

from ticketing.common.aggregates import Keys

logger = logging.getLogger("ticketing.lanes")

Job = Callable[[], Awaitable[None]]


class Lanes:
    def __init__(self, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._slots = asyncio.Semaphore(concurrency)
        self._last: dict[str, asyncio.Task[None]] = {}  # key -> its latest job
        self._jobs: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        """Jobs submitted and not finished (running or waiting their turn)."""
        return len(self._jobs)

    def submit(self, keys: Keys, job: Job, *, done: Callable[[], None] | None = None) -> None:
        """Run ``job`` after every earlier job sharing one of ``keys``; ``done`` is called
        when it has finished, however it finished. ``job`` should settle its own failures:
        what it raises is only logged."""
        before = {self._last[key] for key in keys if key in self._last}
        task = asyncio.create_task(self._run(before, job))
        for key in keys:
            self._last[key] = task
        self._jobs.add(task)
        task.add_done_callback(functools.partial(self._finished, keys, done))

    async def _run(self, before: Iterable[asyncio.Task[None]], job: Job) -> None:
        if earlier := set(before):
            await asyncio.wait(earlier)
        async with self._slots:
            await job()

    def _finished(
        self, keys: Keys, done: Callable[[], None] | None, task: asyncio.Task[None]
    ) -> None:
        self._jobs.discard(task)
        for key in keys:
            if self._last.get(key) is task:
                del self._last[key]
        if not task.cancelled() and (error := task.exception()) is not None:
            logger.error("A job failed on its own", exc_info=error)  # jobs settle their errors
        if done is not None:
            done()

    async def join(self) -> None:
        """Wait until every job submitted so far has finished."""
        if self._jobs:
            await asyncio.wait(set(self._jobs))

    async def cancel(self) -> None:
        """Cancel every job and wait until they have all stopped. Again and again: on Python
        3.11 ``asyncio.wait_for`` (inside nats-py) can swallow a cancellation."""
        while pending := [job for job in self._jobs if not job.done()]:
            for job in pending:
                job.cancel()
            await asyncio.wait(pending, timeout=0.2)
