"""Serving an ASGI app with real uvicorn on a free loopback port, inside the test's event loop.

For what an in-process transport cannot show: the server's own headers, a body streamed over a
real socket, a proxy in front of real services, a contract tester speaking plain HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Literal

import uvicorn
from starlette.types import ASGIApp


class _InLoopServer(uvicorn.Server):
    """uvicorn without its signal handlers: the test process owns its signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def served(
    app: ASGIApp | uvicorn.Config,
    *,
    lifespan: Literal["on", "off"] = "off",
    port: int = 0,
    startup_timeout: float = 30,
) -> AsyncIterator[str]:
    """Serve ``app`` (or a ready ``uvicorn.Config``) until the block ends; yields its base URL.

    ``port`` 0 is a free one; a given port serves a restarted service where it was before.

    ``lifespan="off"`` (the default) when the app's lifespan already runs elsewhere (the
    ``platform`` fixture starts the services)."""
    config = (
        app
        if isinstance(app, uvicorn.Config)
        else uvicorn.Config(app, log_level="warning", lifespan=lifespan)
    )
    config.timeout_graceful_shutdown = 5
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    server = _InLoopServer(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if serving.done():
                serving.result()  # its start-up error
                raise RuntimeError("uvicorn stopped before it started")
            if time.monotonic() > deadline:
                raise TimeoutError("uvicorn did not start in time")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)
        listener.close()
