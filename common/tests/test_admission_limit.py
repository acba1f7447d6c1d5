"""Admission control: past its in-flight limit a process answers 503 with Retry-After at once,
in the contract's shape, and probes are answered however busy it is."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from ticketing.common.http_errors import install_error_handlers
from ticketing.common.http_limits import BUSY


def busy_app(limit: int) -> tuple[FastAPI, asyncio.Event, list[str]]:
    """An app whose ``/slow`` holds its request until ``release`` is set."""
    app, release, entered = FastAPI(), asyncio.Event(), list[str]()
    install_error_handlers(app, max_in_flight=limit)

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        entered.append("slow")
        await release.wait()
        return {"done": True}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app, release, entered


async def until_entered(entered: list[str], count: int) -> None:
    while len(entered) < count:  # noqa: ASYNC110 - the app appends, nothing to wait on
        await asyncio.sleep(0.01)


async def test_a_request_past_the_in_flight_limit_is_a_503_with_retry_after() -> None:
    app, release, entered = busy_app(limit=2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        admitted = [asyncio.create_task(client.get("/slow")) for _ in range(2)]
        await asyncio.wait_for(until_entered(entered, 2), timeout=10)

        refused = await client.get("/slow")
        probe = await client.get("/healthz")
        release.set()
        answers = await asyncio.gather(*admitted)

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json() == {"errors": [{"message": BUSY}]}
    assert probe.status_code == 200
    assert [answer.status_code for answer in answers] == [200, 200]
    assert entered == ["slow", "slow"]  # the refused request never reached the route


async def test_a_slot_freed_by_a_finished_request_admits_the_next() -> None:
    app, release, _ = busy_app(limit=1)
    release.set()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        statuses = [(await client.get("/slow")).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
