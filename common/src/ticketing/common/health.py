"""The probes, the same in every process: HTTP services, the client and the workers (DESIGN §3).

``GET /healthz`` answers while the process runs (liveness). ``GET /readyz`` checks every
``Dependency`` the process needs, all at once, and answers 503 in the contract shape naming
each one that failed, ``{"errors": [{"message": "Redis is not reachable"}]}``, or 200
``{"status": "ready"}``. A check that knows better why its dependency is unusable raises a
``CustomError`` saying so (the client: "The auth service is not healthy"); any other failure
reads "<name> is not reachable", without the exception's text (it may hold a connection URL).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from ticketing.common.errors import CustomError, ErrorItem
from ticketing.common.http_errors import error_response, install_error_handlers

if TYPE_CHECKING:  # the client uses these probes and has no bus
    from ticketing.common.bus import Bus

Check = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Dependency:
    """Something the process needs to do its work: ``check`` raises when it is not usable."""

    name: str  # "Database", "NATS", "Redis", "The auth service"
    check: Check


def bus_connected(bus: Bus) -> Check:
    """The check of NATS: the bus is connected (it reconnects by itself while it is not)."""

    async def check() -> None:
        if not bus.is_connected:
            raise ConnectionError("NATS is not connected")

    return check


async def unready(dependencies: Sequence[Dependency]) -> list[ErrorItem]:
    """One error per dependency whose check failed, in the order given; none when ready."""
    results = await asyncio.gather(*(d.check() for d in dependencies), return_exceptions=True)
    return [
        _problem(dependency, result)
        for dependency, result in zip(dependencies, results, strict=True)
        if isinstance(result, BaseException)
    ]


def _problem(dependency: Dependency, failure: BaseException) -> ErrorItem:
    if isinstance(failure, CustomError):
        return {"message": failure.message}
    return {"message": f"{dependency.name} is not reachable"}


def health_router(dependencies: Sequence[Dependency]) -> APIRouter:
    """``/healthz`` and ``/readyz`` over ``dependencies``."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", response_model=None)
    async def readyz() -> JSONResponse | dict[str, str]:
        problems = await unready(dependencies)
        if problems:
            return error_response(503, problems)
        return {"status": "ready"}

    return router


def probe_app(title: str, dependencies: Sequence[Dependency]) -> FastAPI:
    """The whole HTTP face of a worker that serves nothing but its probes."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    app.include_router(health_router(dependencies))
    return app
