"""Benchmark: placing orders (the reservation guarantee under load), through the real orders
service in-process: HTTP routing, auth, a transaction with the partial unique index, outbox.

- sequential order placement latency, each on its own ticket;
- 50 buyers racing for one ticket (exactly one wins: asserted, then timed);
- ticket.created published on the bus -> the ticket is orderable (replication latency).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from decimal import Decimal
from uuid import UUID, uuid4

import httpx
from asgi_lifespan import LifespanManager

from benchmarks.infra import BenchInfrastructure
from ticketing.common.auth import CurrentUser, generate_key_pair, sign_session_token
from ticketing.common.bus import Bus
from ticketing.common.events import TicketCreated, TicketCreatedData
from ticketing.orders.app import create_app
from ticketing.orders.config import OrdersSettings
from ticketing.testkit.events import publish_event

SEQUENTIAL = 300
RACERS = 50
REPLICATION_SAMPLES = 100


def _ticket() -> TicketCreated:
    return TicketCreated(
        data=TicketCreatedData(
            id=uuid4(), title="Bench", price=Decimal("10.00"), user_id=uuid4(), version=0
        )
    )


async def _order(client: httpx.AsyncClient, token: str, ticket_id: UUID) -> int:
    response = await client.post(
        "/api/orders", json={"ticketId": str(ticket_id)}, cookies={"session": token}
    )
    return response.status_code


async def _order_once_known(
    client: httpx.AsyncClient, token: str, ticket_id: UUID, *, interval: float
) -> None:
    """Order the ticket as soon as orders has replicated it (404 until then), within 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if await _order(client, token, ticket_id) != 404:
            return
        await asyncio.sleep(interval)
    raise TimeoutError(f"ticket {ticket_id} never became orderable")


async def run(infra: BenchInfrastructure) -> dict[str, float]:
    namespace = f"bench{uuid4().hex[:8]}"
    keys = generate_key_pair()
    settings = OrdersSettings(
        environment="test",
        database_url=infra.postgres.create_database(f"orders_{namespace}"),
        nats_url=infra.nats_url,
        bus_namespace=namespace,
        jwt_public_key=keys.public_pem,
        outbox_poll_seconds=0.5,
    )
    tokens = [
        sign_session_token(CurrentUser(uuid4(), f"b{i}@example.com"), keys.private_pem)
        for i in range(RACERS)
    ]
    bus = Bus(infra.nats_url, namespace)
    await bus.connect()
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            # replication latency: publish ticket.created, poll until it can be ordered
            replication: list[float] = []
            for _ in range(REPLICATION_SAMPLES):
                event = _ticket()
                started = time.perf_counter()
                await publish_event(bus, event)
                await _order_once_known(client, tokens[0], event.data.id, interval=0.001)
                replication.append((time.perf_counter() - started) * 1000)

            race_ticket = _ticket()
            tickets = [_ticket() for _ in range(SEQUENTIAL)] + [race_ticket, _ticket()]
            for event in tickets:
                await publish_event(bus, event)
            last = tickets[-1].data.id
            # the consumer applies events in stream order: once the last is there, all are
            await _order_once_known(client, tokens[1], last, interval=0.01)

            latencies: list[float] = []
            started_all = time.perf_counter()
            for event in tickets[:SEQUENTIAL]:
                started = time.perf_counter()
                status = await _order(client, tokens[2], event.data.id)
                latencies.append((time.perf_counter() - started) * 1000)
                assert status == 201, status
            sequential_seconds = time.perf_counter() - started_all

            race_started = time.perf_counter()
            statuses = await asyncio.gather(
                *(_order(client, token, race_ticket.data.id) for token in tokens)
            )
            race_ms = (time.perf_counter() - race_started) * 1000
    await bus.close()
    winners = statuses.count(201)
    lat = statistics.quantiles(latencies, n=100)
    rep = statistics.quantiles(replication, n=100)
    return {
        "order placement p50 (ms)": lat[49],
        "order placement p95 (ms)": lat[94],
        "orders placed per second (one client)": SEQUENTIAL / sequential_seconds,
        f"{RACERS} buyers racing for one ticket: winners": float(winners),
        f"{RACERS} buyers racing for one ticket: all answered (ms)": race_ms,
        "ticket.created -> orderable p50 (ms)": rep[49],
        "ticket.created -> orderable p95 (ms)": rep[94],
    }
