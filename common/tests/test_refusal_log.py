"""The access log under a flood: requests refused busy are tallied, one line per window while
they last, instead of a line each; they are still timed, counted and given their request id."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.types import Receive, Scope, Send

from ticketing.common.correlation import ObservedHttp, RefusalTally
from ticketing.common.http_limits import AdmissionLimitMiddleware
from ticketing.testkit.http import eventually

SERVICE = "refusal-tally-spec"
REFUSED = 5


class HeldApp:
    """A bare ASGI app answering 200 once ``release`` is set."""

    def __init__(self) -> None:
        self.release, self.entered = asyncio.Event(), asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.entered.set()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def refused_count() -> float:
    labels = {"service": SERVICE, "method": "GET", "route": "unmatched", "status": "503"}
    return REGISTRY.get_sample_value("ticketing_http_request_duration_seconds_count", labels) or 0


async def test_requests_refused_busy_are_logged_as_one_tally_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    held = HeldApp()
    limited = AdmissionLimitMiddleware(held, 1, max_queued=0)
    observed = ObservedHttp(limited, SERVICE, refusals=RefusalTally(window=0.1))
    transport = httpx.ASGITransport(app=observed)
    counted_before = refused_count()
    caplog.set_level(logging.INFO, logger="ticketing.http")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        admitted = asyncio.create_task(client.get("/slow"))
        await asyncio.wait_for(held.entered.wait(), timeout=10)

        refused = [await client.get("/slow") for _ in range(REFUSED)]
        held.release.set()
        await admitted

        async def tallied() -> list[str]:
            lines = [r.getMessage() for r in caplog.records if r.name == "ticketing.http"]
            assert f"{REFUSED} requests refused busy in the last 0.1 s" in lines
            return lines

        lines = await eventually(tallied, timeout=10)

    assert [r.status_code for r in refused] == [503] * REFUSED
    assert all(r.headers.get("x-request-id") for r in refused)
    assert "GET /slow 503" not in lines  # no line of their own
    assert "GET /slow 200" in lines  # the admitted request keeps its access line
    assert refused_count() - counted_before == REFUSED
