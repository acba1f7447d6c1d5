"""Benchmark: the event pipeline of common (outbox -> JetStream -> durable consumer).

Measures how many events per second a service can commit through the outbox and how long an
event takes from commit to being handled by another service's consumer.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from uuid import uuid4

import sqlalchemy as sa

from benchmarks.infra import BenchInfrastructure
from ticketing.common.bus import Bus
from ticketing.common.consumer import EventConsumer
from ticketing.common.db import create_engine, create_sessionmaker, infrastructure
from ticketing.common.events import UserCreated, UserCreatedData
from ticketing.common.outbox import OutboxRelay
from ticketing.common.uow import UnitOfWork

EVENTS = 2000
LATENCY_SAMPLES = 200


async def _database(infra: BenchInfrastructure, name: str) -> str:
    url = infra.postgres.create_database(name)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(infrastructure.create_all)
    await engine.dispose()
    return url


def _event() -> UserCreated:
    return UserCreated(data=UserCreatedData(id=uuid4(), email="bench@example.com"))


async def run(infra: BenchInfrastructure) -> dict[str, float]:
    namespace = f"bench{uuid4().hex[:8]}"
    producer_engine = create_engine(await _database(infra, f"producer_{namespace}"))
    consumer_engine = create_engine(await _database(infra, f"consumer_{namespace}"))
    producer_sessions = create_sessionmaker(producer_engine)
    consumer_sessions = create_sessionmaker(consumer_engine)
    bus = Bus(infra.nats_url, namespace)
    await bus.connect()
    relay = OutboxRelay(producer_sessions, bus, poll_seconds=0.5)
    handled: dict[str, float] = {}
    arrived: dict[str, asyncio.Event] = {}
    done = asyncio.Event()

    async def on_user_created(event: UserCreated, uow: UnitOfWork) -> None:
        handled[str(event.id)] = time.perf_counter()
        if str(event.id) in arrived:
            arrived[str(event.id)].set()
        if len(handled) >= EVENTS + LATENCY_SAMPLES:
            done.set()

    consumer = EventConsumer(
        durable="bench",
        bus=bus,
        subscriptions={UserCreated: on_user_created},
        unit_of_work=lambda: UnitOfWork(consumer_sessions, namespace=namespace),
    )
    await consumer.subscribe()
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
    try:
        # 1. throughput: commit EVENTS events (one per transaction), until all are handled
        started = time.perf_counter()
        for _ in range(EVENTS):
            async with UnitOfWork(
                producer_sessions, namespace=namespace, on_commit=relay.notify
            ) as uow:
                uow.publish(_event())
                await uow.commit()
        committed = time.perf_counter()
        # 2. latency: one event at a time, commit -> handled by the other service
        latencies: list[float] = []
        for _ in range(LATENCY_SAMPLES):
            event = _event()
            arrived[str(event.id)] = asyncio.Event()
            async with UnitOfWork(
                producer_sessions, namespace=namespace, on_commit=relay.notify
            ) as uow:
                uow.publish(event)
                t0 = time.perf_counter()
                await uow.commit()
            await asyncio.wait_for(arrived[str(event.id)].wait(), timeout=30)
            latencies.append((handled[str(event.id)] - t0) * 1000)
        await asyncio.wait_for(done.wait(), timeout=120)
        async with consumer_sessions() as session:
            processed = await session.scalar(sa.text("SELECT count(*) FROM processed_events"))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.close()
        await producer_engine.dispose()
        await consumer_engine.dispose()
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "commits per second (one event each)": EVENTS / (committed - started),
        "events handled": float(processed or 0),
        "commit -> handled latency p50 (ms)": quantiles[49],
        "commit -> handled latency p95 (ms)": quantiles[94],
    }
