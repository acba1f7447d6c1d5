"""The expiration worker: order.created in, expiration.complete out when the order is due."""

from datetime import timedelta
from uuid import UUID, uuid4

import httpx
import pytest

from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.events import ExpirationComplete
from ticketing.expiration.config import ExpirationSettings
from ticketing.expiration.jobs import expiration_event_id
from ticketing.expiration.worker import RunningWorker, running_worker
from ticketing.testkit.embedded import EmbeddedRedis
from ticketing.testkit.events import events_of, order_created, publish_event
from ticketing.testkit.fixtures import Infrastructure
from ticketing.testkit.http import eventually


async def expirations(bus: Bus) -> list[ExpirationComplete]:
    found = await events_of(bus, ExpirationComplete)
    assert found, "no expiration.complete yet"
    return found


async def scheduled_jobs(worker: RunningWorker, count: int) -> None:
    assert await worker.redis.zcard(worker.queue_name) == count


@pytest.mark.parametrize(
    "payment_grace",
    [timedelta(0), timedelta(seconds=2)],
    ids=["at-expires-at-without-a-grace", "a-grace-after-expires-at"],
)
async def test_an_order_expires_at_its_expiry_time_plus_the_grace_not_before(
    worker: RunningWorker, bus: Bus, payment_grace: timedelta
) -> None:
    expires_at = utcnow() + timedelta(seconds=1)
    event = order_created(uuid4(), expires_at=expires_at)

    await publish_event(bus, event)

    published = await eventually(lambda: expirations(bus), timeout=15)
    assert [e.data.order_id for e in published] == [event.data.id]
    assert published[0].id == expiration_event_id(event.data.id)
    assert published[0].occurred_at >= expires_at + payment_grace


async def test_a_redelivered_order_created_schedules_one_expiry(
    worker: RunningWorker, bus: Bus
) -> None:
    event = order_created(uuid4(), expires_at=utcnow() + timedelta(seconds=2))
    await publish_event(bus, event)
    await eventually(lambda: scheduled_jobs(worker, 1))

    await publish_event(bus, event, msg_id=str(uuid4()))  # the same event, delivered again

    async def both_deliveries_handled() -> None:
        info = await bus.js.consumer_info(bus.names.stream, "expiration")
        assert info.ack_floor.stream_seq >= 2
        assert info.num_ack_pending == 0

    await eventually(both_deliveries_handled)
    await scheduled_jobs(worker, 1)
    published = await eventually(lambda: expirations(bus), timeout=10)
    assert [e.data.order_id for e in published] == [event.data.id]


async def test_a_scheduled_expiry_survives_a_worker_restart(
    expiration_settings: ExpirationSettings, bus: Bus
) -> None:
    event = order_created(uuid4(), expires_at=utcnow() + timedelta(seconds=1.5))
    async with running_worker(expiration_settings) as first:
        await publish_event(bus, event)
        await eventually(lambda: scheduled_jobs(first, 1))
    assert await events_of(bus, ExpirationComplete) == []

    async with running_worker(expiration_settings):
        published = await eventually(lambda: expirations(bus), timeout=10)

    assert [e.data.order_id for e in published] == [event.data.id]


async def test_an_overdue_order_expires_at_once(worker: RunningWorker, bus: Bus) -> None:
    event = order_created(uuid4(), expires_at=utcnow() - timedelta(minutes=1))

    await publish_event(bus, event)

    published = await eventually(lambda: expirations(bus), timeout=5)
    assert [e.data.order_id for e in published] == [event.data.id]


async def test_more_orders_due_at_once_than_jobs_run_at_once_all_expire(
    expiration_settings: ExpirationSettings, bus: Bus
) -> None:
    overdue = utcnow() - timedelta(seconds=1)
    events = [order_created(uuid4(), expires_at=overdue) for _ in range(12)]
    for event in events:
        await publish_event(bus, event)

    async def all_expired() -> set[UUID]:
        found: set[UUID] = {e.data.order_id for e in await expirations(bus)}
        assert found == {e.data.id for e in events}
        return found

    async with running_worker(expiration_settings.model_copy(update={"max_jobs": 5})):
        assert await eventually(all_expired, timeout=15)


async def test_probes_report_alive_and_ready(worker: RunningWorker) -> None:
    async with httpx.AsyncClient(base_url=worker.health_url) as client:
        alive = await client.get("/healthz")
        ready = await client.get("/readyz")
        unknown = await client.get("/nope")

    assert alive.status_code == 200
    assert ready.status_code == 200
    assert unknown.status_code == 404
    assert unknown.json() == {"errors": [{"message": "Not found"}]}


async def test_readiness_fails_in_the_contract_shape_when_redis_is_gone(
    expiration_settings: ExpirationSettings, infrastructure: Infrastructure
) -> None:
    redis = EmbeddedRedis(infrastructure.tmp_dir / f"redis-{uuid4().hex[:8]}").start()
    settings = expiration_settings.model_copy(update={"redis_url": redis.url})
    try:
        async with running_worker(settings) as worker:
            redis.stop()

            async with httpx.AsyncClient(base_url=worker.health_url) as client:
                ready = await client.get("/readyz")
    finally:
        redis.stop()

    assert ready.status_code == 503
    assert ready.json() == {"errors": [{"message": "Redis is not reachable"}]}
