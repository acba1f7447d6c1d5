"""The stateful rows: tickets to sell, buyers with sessions, orders, payments, a flash sale,
and how long a new ticket takes to be orderable (orders) and visible (query).

Buyers are real users, signed up through auth before the rows (``Buyers.sign_up``): a
session signed for a made-up user would pass every service's check, but notifications would
never get that user's ``user.created`` and would hold each of their orders' events as out of
order, naking them for ten minutes, and that churn shared the cores with the rows measured
after it (and the warm start's idle figures).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import psutil  # type: ignore[import-untyped]

from benchmarks import burst
from benchmarks.load import CpuMeter, Measured, drive
from benchmarks.stack import Platform
from ticketing.client.upstream_transport import ReqwestTransport

FLASH_BUYERS, FLASH_TICKETS = 1000, 100
FLASH_PATIENCE_SECONDS = 180  # a buyer still told 503 then has no final answer (0)
PASSWORD = "bench-password-1"


BACKGROUND_RATE = 100  # tickets listed a second while propagation is measured (issue 14)
BUYERS = 1300  # every row's buyers: the flash sale's 1,000, and ~210 for the other rows


class Buyers:
    """Sessions of users who signed up, each handed out once (``session``)."""

    def __init__(self, sessions: list[str]) -> None:
        self.sessions = iter(sessions)

    @classmethod
    async def sign_up(cls, auth_url: str, count: int = BUYERS) -> Buyers:
        """``count`` users signed up through auth, 8 at a time (argon2 bounds it, ~27/s)."""
        sessions: list[str] = []

        async def call(http: httpx.AsyncClient, i: int) -> httpx.Response:
            body = {"email": f"buyer-{uuid4().hex[:12]}@example.com", "password": PASSWORD}
            response = await http.post("/api/users/signup", json=body)
            if response.status_code == 201:
                sessions.append(response.cookies["session"])
            return response

        async with client(auth_url) as auth:
            row = await drive(auth, call, count=count, concurrency=8, processes=[])
        if len(sessions) < count:
            raise RuntimeError(f"only {len(sessions)} of {count} buyers signed up: {row.statuses}")
        return cls(sessions)

    def session(self) -> str:
        try:
            return next(self.sessions)
        except StopIteration:
            raise RuntimeError(f"the bench needs more than {BUYERS} buyers") from None


def client(base_url: str, *, connections: int = 64, reqwest: bool = False) -> httpx.AsyncClient:
    """httpx with its own transport, or (``reqwest``) over the client service's reqwest one."""
    if reqwest:
        transport = ReqwestTransport(connections)
        return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=60)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60)


async def sign_up(auth: httpx.AsyncClient, count: int, procs: list[psutil.Process]) -> Measured:
    async def call(http: httpx.AsyncClient, i: int) -> httpx.Response:
        body = {"email": f"seller-{uuid4().hex[:12]}@example.com", "password": PASSWORD}
        return await http.post("/api/users/signup", json=body)

    return await drive(auth, call, count=count, concurrency=8, processes=procs)


async def sell(
    tickets: httpx.AsyncClient, session: str, count: int, procs: list[psutil.Process]
) -> tuple[Measured, list[str]]:
    """``count`` tickets listed by one seller; the row and their ids."""
    ids: list[str] = []

    async def call(http: httpx.AsyncClient, i: int) -> httpx.Response:
        response = await http.post(
            "/api/tickets",
            json={"title": f"Bench seat {i}", "price": 25},
            cookies={"session": session},
        )
        if response.status_code == 201:
            ids.append(response.json()["id"])
        return response

    return await drive(tickets, call, count=count, concurrency=32, processes=procs), ids


async def full_listings(platform: Platform, seller: str, *, page: int = 50) -> None:
    """Enough tickets for sale that both listings the wrk rows read (tickets' and query's)
    answer a full page, as the bare baseline does: an empty listing would measure nothing."""
    async with client(platform.url("tickets")) as tickets, client(platform.url("query")) as query:
        await sell(tickets, seller, page + 10, procs=[])
        deadline = time.monotonic() + 120
        while len((await query.get("/api/query/tickets?status=available")).json()["items"]) < page:
            if time.monotonic() > deadline:
                raise TimeoutError("the query listing never showed a full page")
            await asyncio.sleep(0.1)
        assert len((await tickets.get("/api/tickets")).json()) == page


async def order(http: httpx.AsyncClient, session: str, ticket_id: str) -> httpx.Response:
    return await http.post(
        "/api/orders", json={"ticketId": ticket_id}, cookies={"session": session}
    )


async def await_orderable(orders: httpx.AsyncClient, buyers: Buyers, ticket_id: str) -> None:
    """Until orders has the ticket (404 before its ticket.created arrived), within 300 s."""
    session, deadline = buyers.session(), time.monotonic() + 300
    while (await order(orders, session, ticket_id)).status_code == 404:
        if time.monotonic() > deadline:
            raise TimeoutError(f"ticket {ticket_id} never reached orders")
        await asyncio.sleep(0.05)


async def place_orders(
    orders: httpx.AsyncClient, buyers: Buyers, ticket_ids: list[str], procs: list[psutil.Process]
) -> tuple[Measured, list[tuple[str, str]]]:
    """One order per ticket, five per buyer (the unpaid-orders cap); (session, order id)s."""
    sessions = [buyers.session() for _ in range(len(ticket_ids) // 5 + 1)]
    placed: list[tuple[str, str]] = []

    async def call(http: httpx.AsyncClient, i: int) -> httpx.Response:
        response = await order(http, sessions[i // 5], ticket_ids[i])
        if response.status_code == 201:
            placed.append((sessions[i // 5], response.json()["id"]))
        return response

    row = await drive(orders, call, count=len(ticket_ids), concurrency=32, processes=procs)
    return row, placed


async def pay(
    payments: httpx.AsyncClient, placed: list[tuple[str, str]], procs: list[psutil.Process]
) -> Measured:
    async def call(http: httpx.AsyncClient, i: int) -> httpx.Response:
        session, order_id = placed[i]
        body = {"orderId": order_id, "token": "tok_visa"}
        response = await http.post("/api/payments", json=body, cookies={"session": session})
        for _ in range(600):  # 404 until payments has the order.created (30 s)
            if response.status_code != 404:
                break
            await asyncio.sleep(0.05)
            response = await http.post("/api/payments", json=body, cookies={"session": session})
        return response

    return await drive(payments, call, count=len(placed), concurrency=16, processes=procs)


@dataclass
class Sale:
    """A flash sale's outcome: the first answers (the row), the final ones, and every order."""

    first: Measured
    final: Measured
    orders: list[dict[str, Any]] = field(default_factory=list)  # the 201 bodies
    first_by_status: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))

    def slowest_first(self) -> str:
        """The slowest first answer of each status: which kind of answer bounds the row."""
        return ", ".join(
            f"{status}: {max(ms):,.0f} ms" for status, ms in sorted(self.first_by_status.items())
        )

    def double_sold(self, window: timedelta, grace: timedelta) -> list[str]:
        """Tickets sold again while an earlier order of theirs could still be paid for: an
        order is placed at ``expiresAt - window``, and may be cancelled from ``expiresAt +
        grace`` on, so a second order placed before that is a double sale (server clocks)."""
        by_ticket: dict[str, list[datetime]] = defaultdict(list)
        for body in self.orders:
            by_ticket[body["ticket"]["id"]].append(datetime.fromisoformat(body["expiresAt"]))
        return [
            ticket
            for ticket, expiries in by_ticket.items()
            if any(
                later - window < earlier + grace
                for earlier, later in itertools.pairwise(sorted(expiries))
            )
        ]


async def flash_sale(
    orders_url: str, buyers: Buyers, ticket_ids: list[str], procs: list[psutil.Process]
) -> Sale:
    """``FLASH_BUYERS`` buyers at once, ten per ticket, each on a connection of its own
    (``burst``: httpx would be the slowest part of the sale). A buyer told 503 comes back after
    its ``Retry-After``, as a browser would, for at most ``FLASH_PATIENCE_SECONDS``."""
    assert len(ticket_ids) == FLASH_TICKETS
    cookies = [f"session={buyers.session()}" for _ in range(FLASH_BUYERS)]
    sale = Sale(
        Measured("asyncio sockets", FLASH_BUYERS, 0.0),
        Measured("asyncio sockets", FLASH_BUYERS, 0.0),
    )
    start = asyncio.Event()

    async def buyer(i: int) -> None:
        connection, answered = burst.Connection(orders_url), False
        body = {"ticketId": ticket_ids[i % FLASH_TICKETS]}
        await start.wait()
        started = time.perf_counter()
        status = 0
        try:
            while time.perf_counter() - started < FLASH_PATIENCE_SECONDS:
                answer = await connection.post_json("/api/orders", body, cookie=cookies[i])
                status = answer.status
                if not answered:
                    answered = True
                    took = (time.perf_counter() - started) * 1000
                    sale.first.latencies_ms.append(took)
                    sale.first.statuses[status] += 1
                    sale.first_by_status[status].append(took)
                if status != 503:
                    break
                await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
            if status == 201:
                sale.orders.append(answer.json())
        except (OSError, asyncio.IncompleteReadError):
            status = 0  # no answer: counted, not raised
        finally:
            await connection.close()
        sale.final.latencies_ms.append((time.perf_counter() - started) * 1000)
        sale.final.statuses[status if status != 503 else 0] += 1

    tasks = [asyncio.create_task(buyer(i)) for i in range(FLASH_BUYERS)]
    await asyncio.sleep(0)  # every buyer waits at the start line
    cpu, meter, started = time.process_time(), CpuMeter(procs), time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    for row in (sale.first, sale.final):
        row.seconds = time.perf_counter() - started
        row.driver_cpu = (time.process_time() - cpu) / row.seconds
        row.platform_cpu = meter.cores()
        row.summarise()
    return sale


async def propagation(
    platform: Platform, seller: str, buyers: Buyers, procs: list[psutil.Process], *, samples: int
) -> tuple[Measured, Measured, float]:
    """ticket.created -> orderable (orders) and -> visible (query), while another task lists
    ``BACKGROUND_RATE`` tickets a second on the clock; each sample timed from the moment its
    POST was answered; also the background's rate, as reached.

    Its HTTP goes through reqwest (``ReqwestTransport``, the client's), not httpcore: httpcore
    costs ~2.6 ms of CPU a call, and this driver's own loop, busy with the background's
    hundred POSTs a second, timed every probe (its answer and each poll); the polls also
    reach the service sooner. The figure is the platform's, less the driver's queue."""
    tool = "asyncio+httpx over reqwest"
    to_orders, to_query = Measured(tool, samples, 0), Measured(tool, samples, 0)
    stop, listed = asyncio.Event(), itertools.count()
    async with (
        client(platform.url("tickets"), reqwest=True) as tickets,
        client(platform.url("orders"), reqwest=True) as orders,
        client(platform.url("query"), reqwest=True) as query,
    ):

        async def list_one() -> None:
            n = next(listed)
            body = {"title": f"Background {n}", "price": 5}
            await tickets.post("/api/tickets", json=body, cookies={"session": seller})

        async def background() -> None:
            """On the clock: a slow answer does not lower the rate (each POST is a task)."""
            tick, running = time.monotonic(), set[asyncio.Task[None]]()
            while not stop.is_set():
                task = asyncio.create_task(list_one())
                running.add(task)
                task.add_done_callback(running.discard)
                tick += 1 / BACKGROUND_RATE
                await asyncio.sleep(max(0.0, tick - time.monotonic()))
            await asyncio.gather(*running)

        async def until_orderable(ticket_id: str, since: float) -> None:
            session = buyers.session()
            while (await order(orders, session, ticket_id)).status_code == 404:  # noqa: ASYNC110
                await asyncio.sleep(0.002)
            to_orders.latencies_ms.append((time.perf_counter() - since) * 1000)

        async def until_visible(ticket_id: str, since: float) -> None:
            while (await query.get(f"/api/query/tickets/{ticket_id}")).status_code == 404:  # noqa: ASYNC110
                await asyncio.sleep(0.002)
            to_query.latencies_ms.append((time.perf_counter() - since) * 1000)

        filler = asyncio.create_task(background())
        meter, started, cpu = CpuMeter(procs), time.perf_counter(), time.process_time()
        for n in range(samples):
            created = await tickets.post(
                "/api/tickets",
                json={"title": f"Probe {n}", "price": 7},
                cookies={"session": seller},
            )
            since, ticket_id = time.perf_counter(), created.json()["id"]
            await asyncio.gather(until_orderable(ticket_id, since), until_visible(ticket_id, since))
            await asyncio.sleep(0.05)
        stop.set()
        await filler
    background_rate = next(listed) / (time.perf_counter() - started)
    for row in (to_orders, to_query):
        row.seconds = time.perf_counter() - started
        row.driver_cpu = (time.process_time() - cpu) / row.seconds
        row.platform_cpu = meter.cores()
        row.summarise()
    return to_orders, to_query, background_rate


def statuses(row: Measured) -> str:
    return ", ".join(f"{code}: {n}" for code, n in sorted(row.statuses.items()))
