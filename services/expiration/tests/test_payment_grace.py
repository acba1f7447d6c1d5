"""The expiry fires ``EXPIRATION_PAYMENT_GRACE_SECONDS`` after ``expiresAt`` (DESIGN §3, §5):
the moment orders' own sweep uses too, so a payment accepted in time can still land (that it
fires then, not before: test_expiration.py, with a grace)."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.events import OrderCreated
from ticketing.expiration.jobs import job_id
from ticketing.expiration.worker import RunningWorker
from ticketing.testkit.events import order_created, publish_event
from ticketing.testkit.http import eventually

GRACE = timedelta(seconds=2)


@pytest.fixture
def payment_grace() -> timedelta:
    """The worker of these tests waits GRACE after expiresAt."""
    return GRACE


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
