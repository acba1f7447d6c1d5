"""Admission control: past its in-flight limit a process queues a few requests for a slot,
first come first served, and answers the others 503 with a jittered Retry-After at once, in
the contract's shape; probes are answered however busy it is."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from ticketing.common.http_errors import install_error_handlers
from ticketing.common.http_limits import BUSY, RETRY_AFTER_SECONDS, AdmissionLimitMiddleware
from ticketing.testkit.http import eventually


class BusyApp:
    """An app whose ``/slow`` holds each request until ``release`` is set, noting its order,
    behind the admission limit under test."""

    def __init__(self, limit: int, *, queued: int = 0, wait: float = 30.0) -> None:
        self.app, self.release, self.entered = FastAPI(), asyncio.Event(), list[str]()
        install_error_handlers(self.app)  # the contract's error shape, no limit of its own

        @self.app.get("/slow")
        async def slow(name: str) -> dict[str, str]:
            self.entered.append(name)
            await self.release.wait()
            return {"name": name}

        @self.app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        self.limited = AdmissionLimitMiddleware(
            self.app, limit, max_queued=queued, queue_wait_seconds=wait
        )

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.limited)
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    async def until_entered(self, count: int) -> None:
        async def entered() -> None:
            assert len(self.entered) >= count

        await eventually(entered, interval=0.01)

    async def until_queued(self, count: int) -> None:
        async def queued() -> None:
            assert self.limited.queued >= count

        await eventually(queued, interval=0.01)


def get(client: httpx.AsyncClient, name: str) -> asyncio.Task[httpx.Response]:
    return asyncio.create_task(client.get("/slow", params={"name": name}))


async def test_a_request_past_the_limit_and_the_queue_is_a_503_with_retry_after() -> None:
    busy = BusyApp(limit=2, queued=1)
    async with busy.client() as client:
        admitted = [get(client, "first"), get(client, "second")]
        await asyncio.wait_for(busy.until_entered(2), timeout=10)
        queued = get(client, "queued")
        await asyncio.wait_for(busy.until_queued(1), timeout=10)

        refused = await client.get("/slow", params={"name": "refused"})
        probe = await client.get("/healthz")
        busy.release.set()
        answers = await asyncio.gather(*admitted, queued)

    assert refused.status_code == 503
    low, high = RETRY_AFTER_SECONDS
    assert low <= int(refused.headers["retry-after"]) <= high
    assert refused.json() == {"errors": [{"message": BUSY}]}
    assert probe.status_code == 200
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert "refused" not in busy.entered  # the refused request never reached the route


async def test_a_queued_request_gets_the_slot_a_finished_one_frees_in_arrival_order() -> None:
    busy = BusyApp(limit=1, queued=3)
    async with busy.client() as client:
        first = get(client, "first")
        await asyncio.wait_for(busy.until_entered(1), timeout=10)
        waiting = []
        for name in ("second", "third", "fourth"):
            waiting.append(get(client, name))
            await asyncio.wait_for(busy.until_queued(len(waiting)), timeout=10)

        busy.release.set()
        answers = await asyncio.gather(first, *waiting)

    assert [answer.status_code for answer in answers] == [200, 200, 200, 200]
    assert busy.entered == ["first", "second", "third", "fourth"]
    assert busy.limited.in_flight == 0  # every slot came back


async def test_a_request_that_waited_its_longest_in_the_queue_is_refused() -> None:
    busy = BusyApp(limit=1, queued=1, wait=0.05)
    async with busy.client() as client:
        held = get(client, "held")
        await asyncio.wait_for(busy.until_entered(1), timeout=10)

        waited = await client.get("/slow", params={"name": "waited"})
        busy.release.set()
        await held

    assert waited.status_code == 503
    assert waited.json() == {"errors": [{"message": BUSY}]}
    assert busy.entered == ["held"]
    assert busy.limited.in_flight == 0


async def test_a_slot_freed_by_a_finished_request_admits_the_next() -> None:
    app = FastAPI()
    install_error_handlers(app, max_in_flight=1)

    @app.get("/fast")
    async def fast() -> dict[str, bool]:
        return {"done": True}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        statuses = [(await client.get("/fast")).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
