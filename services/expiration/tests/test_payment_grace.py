"""The expiry fires ``EXPIRATION_PAYMENT_GRACE_SECONDS`` after ``expiresAt`` (DESIGN §3, §5):
the moment orders' own sweep uses too, so a payment accepted in time can still land."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.events import ExpirationComplete, OrderCreated
from ticketing.expiration.config import ExpirationSettings
from ticketing.expiration.jobs import job_id
from ticketing.expiration.worker import RunningWorker
from ticketing.testkit.events import events_of, order_created, publish_event
from ticketing.testkit.http import eventually

GRACE = timedelta(seconds=2)


@pytest.fixture
def expiration_settings(expiration_settings: ExpirationSettings) -> ExpirationSettings:
    """The worker of these tests waits GRACE after expiresAt."""
    return expiration_settings.model_copy(update={"payment_grace_seconds": GRACE.total_seconds()})


async def expirations(bus: Bus) -> list[ExpirationComplete]:
    found = await events_of(bus, ExpirationComplete)
    assert found, "no expiration.complete yet"
    return found


async def scheduled_for(worker: RunningWorker, bus: Bus, event: OrderCreated) -> datetime:
    """When arq will run the order's job (its score in the queue, in epoch milliseconds)."""
    member = job_id(bus.names.namespace, event.data.id)
    score = await worker.redis.zscore(worker.queue_name, member)
    assert score is not None, "the expiry is not scheduled yet"
    return datetime.fromtimestamp(score / 1000, tz=UTC)


async def test_the_expiry_is_scheduled_for_expires_at_plus_the_grace(
    worker: RunningWorker, bus: Bus
) -> None:
    event = order_created(uuid4(), expires_at=utcnow() + timedelta(minutes=15))

    await publish_event(bus, event)

    scheduled = await eventually(lambda: scheduled_for(worker, bus, event))
    assert abs(scheduled - (event.data.expires_at + GRACE)) < timedelta(milliseconds=1)


async def test_the_expiry_fires_at_expires_at_plus_the_grace_not_before(
    worker: RunningWorker, bus: Bus
) -> None:
    expires_at = utcnow() + timedelta(seconds=0.5)
    event = order_created(uuid4(), expires_at=expires_at)

    await publish_event(bus, event)

    published = await eventually(lambda: expirations(bus), timeout=15)
    assert [e.data.order_id for e in published] == [event.data.id]
    assert published[0].occurred_at >= expires_at + GRACE
