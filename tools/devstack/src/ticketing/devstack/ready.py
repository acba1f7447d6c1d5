"""The ready line of ``make dev``: printed once every process answers its health URL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from urllib.parse import urlsplit

from ticketing.devstack.processes import Process

READY_TIMEOUT = 120


def health_urls(processes: Sequence[Process]) -> list[str]:
    """Each process's health URL, the client's after the others and the gateway's last: the
    client's readiness asks the services, so it is not polled (and does not log) while they
    are still starting."""

    def last(process: Process) -> int:
        return {"client": 1, "gateway": 2}.get(process.name.partition("-")[0], 0)

    ordered = sorted((p for p in processes if p.health_url), key=last)
    return [p.health_url for p in ordered if p.health_url]


async def wait_until_ready(urls: Sequence[str], timeout: float = READY_TIMEOUT) -> str | None:
    """Wait for each URL in turn; the first that did not answer in time, or None."""
    deadline = time.monotonic() + timeout
    for url in urls:
        while not await _answers(url):
            if time.monotonic() >= deadline:
                return url
            await asyncio.sleep(0.1)
    return None


async def announce_when_ready(
    public_url: str, urls: Sequence[str], started: float, say: Callable[[str], None]
) -> None:
    """``ready: Ticketing is up at ...`` once every URL answers (seconds since ``started``)."""
    if (late := await wait_until_ready(urls)) is not None:
        say(f"make dev: not ready after {READY_TIMEOUT}s: {late}")
        return
    say(f"ready: Ticketing is up at {public_url} ({time.monotonic() - started:.1f}s)")


async def _answers(url: str) -> bool:
    """Whether ``url`` answers 200 within a second: one GET on a connection of its own, as a
    kubelet probes. Not httpx: the supervisor runs for the whole session, and httpx (with the
    command line it loads) would be ~8 MiB of it for a status line."""
    parts = urlsplit(url)
    request = (
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
    )
    try:
        async with asyncio.timeout(1):
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            try:
                writer.write(request.encode("latin-1"))
                await writer.drain()
                status_line = await reader.readline()
            finally:
                writer.close()
                with suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError):
        return False
    return status_line.split(b" ")[1:2] == [b"200"]
