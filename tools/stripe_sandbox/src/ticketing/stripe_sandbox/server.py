"""Running the sandbox: uvicorn on a socket bound up front, in a background thread or not.

``serve()`` is the context manager test harnesses use: it starts the app on a free port (by
default) in a daemon thread, yields the base URL once the server accepts connections, and on
exit stops uvicorn, joins the thread and closes the socket so the port is free again.
``run_in_thread()`` is the same without the ``with``. ``__main__`` reuses ``bind`` and
``build_server`` to run in the foreground.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from ticketing.stripe_sandbox.app import create_app

DEFAULT_HOST = "127.0.0.1"
STARTUP_TIMEOUT_SECONDS = 10.0
SHUTDOWN_TIMEOUT_SECONDS = 10.0


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """A uvicorn server that calls ``on_ready`` once it accepts connections."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready()


def build_server(
    app: FastAPI, *, on_ready: Callable[[], None], log_level: str = "warning"
) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=log_level in ("debug", "trace"),
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    return _Server(config, on_ready)


def run_in_thread(
    host: str = DEFAULT_HOST,
    port: int = 0,
    *,
    app: FastAPI | None = None,
    log_level: str = "warning",
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
) -> tuple[str, Callable[[], None]]:
    """Start the sandbox in a daemon thread; returns its base URL and an idempotent ``stop``.

    ``webhook_url``/``webhook_secret`` configure the app made here (give your own ``app``
    its webhook through ``create_app``)."""
    if app is not None and (webhook_url or webhook_secret):
        raise ValueError("give the webhook endpoint to create_app() when passing an app")
    app = app or create_app(webhook_url=webhook_url, webhook_secret=webhook_secret)
    sock = bind(host, port)
    ready = threading.Event()
    server = build_server(app, on_ready=ready.set, log_level=log_level)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="stripe-sandbox", daemon=True
    )
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT_SECONDS)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("the Stripe sandbox did not stop in time")

    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not ready.wait(0.05):
        if not thread.is_alive() or time.monotonic() > deadline:
            stop()
            raise RuntimeError("the Stripe sandbox did not start")
    return base_url(sock), stop


@contextmanager
def serve(
    port: int = 0,
    host: str = DEFAULT_HOST,
    *,
    app: FastAPI | None = None,
    log_level: str = "warning",
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
) -> Iterator[str]:
    """``with serve() as base_url:`` the sandbox runs in the background for the block."""
    url, stop = run_in_thread(
        host,
        port,
        app=app,
        log_level=log_level,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
    )
    try:
        yield url
    finally:
        stop()
