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
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from ticketing.common.errors import CustomError, ErrorItem, ServiceUnavailableError
from ticketing.common.http_errors import error_response, install_error_handlers

if TYPE_CHECKING:  # the client uses these probes and has no bus
    from ticketing.common.bus import Bus

Check = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Dependency:
    """Something the process needs to do its work: ``check`` raises when it is not usable."""

    name: str  # "Database", "NATS", "Redis", "The auth service"
    check: Check


NATS_ROUND_TRIP_SECONDS = 2.0


def bus_answers(bus: Bus, timeout: float = NATS_ROUND_TRIP_SECONDS) -> Check:
    """The check of NATS: a ping answered within ``timeout``, not merely an open socket (a
    frozen server keeps the connection open while it answers nothing)."""

    async def check() -> None:
        await bus.round_trip(timeout)

    return check


def stalled(last_progress: float, now: float, threshold: float) -> bool:
    """Whether a loop has gone more than ``threshold`` seconds without finishing a turn.

    The loops checked (event consumer, outbox relay) finish a turn every second or so even
    with nothing to do (a fetch that times out, a poll that finds no rows), so a loop this
    far behind is stuck on work it has in hand, not idle."""
    return now - last_progress > threshold


def progressing(name: str, last_progress: Callable[[], float], threshold: float) -> Check:
    """The check of a loop: ``last_progress`` (``time.monotonic()`` of its last finished turn)
    is within ``threshold``; otherwise "<name> has stalled"."""

    async def check() -> None:
        if stalled(last_progress(), time.monotonic(), threshold):
            raise ServiceUnavailableError(f"{name} has stalled")

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
    """The whole HTTP face of a worker that serves nothing but its probes and ``/metrics``."""
    from ticketing.common.metrics import metrics_router  # its imports are heavier than ours

    app = FastAPI(title=title, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    app.include_router(health_router(dependencies))
    app.include_router(metrics_router())
    return app
