"""The worker's probe server: ``/healthz`` (alive) and ``/readyz`` (Redis and NATS reachable).

Kubernetes probes need HTTP, the worker serves nothing else. Errors use the contract shape
(``install_error_handlers``). The server runs inside the worker's event loop and leaves signal
handling to the worker, which owns the process.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from ticketing.common.http_errors import error_response, install_error_handlers

ReadinessCheck = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Dependency:
    """Something the worker needs: ``check`` raises when it is not reachable."""

    name: str
    check: ReadinessCheck


def create_health_app(dependencies: list[Dependency]) -> FastAPI:
    app = FastAPI(title="Ticketing expiration worker", docs_url=None, redoc_url=None)
    install_error_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", response_model=None)
    async def readyz() -> JSONResponse | dict[str, str]:
        problems: list[dict[str, str]] = []
        for dependency in dependencies:
            try:
                await dependency.check()
            except Exception:
                problems.append({"message": f"{dependency.name} is not reachable"})
        if problems:
            return error_response(503, problems)
        return {"status": "ready"}

    return app


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the worker process decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HealthServer:
    """Binds its socket up front (port 0 = a free one), so ``url`` is known before serving."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = _EmbeddedServer(config)

    @property
    def url(self) -> str:
        host, port = self._socket.getsockname()[:2]
        return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"

    async def serve(self) -> None:
        try:
            await self._server.serve(sockets=[self._socket])
        finally:
            self._socket.close()

    def stop(self) -> None:
        self._server.should_exit = True
