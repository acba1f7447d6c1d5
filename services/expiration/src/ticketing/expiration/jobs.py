"""Scheduling an order's expiry and the arq job that announces it.

``Scheduler.on_order_created`` enqueues one job per order, deferred until ``expiresAt`` + the
payment grace (DESIGN §3: a payment accepted before ``expiresAt`` has that long to complete the
order; orders' sweep waits for the same moment); the job id is derived from the order id, so a
redelivered ``order.created`` schedules nothing new (arq refuses a job id that is queued or has
a kept result). ``publish_expiration`` runs when the
order is due and publishes ``expiration.complete`` straight to JetStream with an event id derived
from the order id too: a job that runs twice publishes one message (Nats-Msg-Id dedupe). A
failed publish asks arq to retry with backoff; if every try fails, orders' own sweep still
cancels the overdue order.

The job carries the request id and trace context of the ``order.created`` that scheduled it
(``origin``), so the ``expiration.complete`` it publishes minutes later continues the purchase
that caused it (DESIGN §10): its log lines, its span and its NATS headers. Counted: jobs
scheduled, fired, and how late each fired (``/metrics`` on the probe port).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from arq import Retry
from arq.connections import ArqRedis
from prometheus_client import Counter, Histogram

from ticketing.common.bus import Bus
from ticketing.common.correlation import continuing, outgoing_headers
from ticketing.common.events import ExpirationComplete, ExpirationCompleteData, OrderCreated

logger = logging.getLogger("ticketing.expiration")

JOB_FUNCTION = "publish_expiration"
_EVENT_IDS = UUID("5b0c3f51-7d2e-4f55-9a2e-3f1d8c9b6a10")  # uuid5 namespace of our event ids
MAX_RETRY_DELAY_SECONDS = 30

JOBS_SCHEDULED = Counter("ticketing_expiration_jobs_scheduled", "Order expiries scheduled")
JOBS_FIRED = Counter("ticketing_expiration_jobs_fired", "Order expiries published")
LATENESS = Histogram(
    "ticketing_expiration_lateness_seconds",
    "How long after its moment an expiry was published",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)


def queue_name(namespace: str) -> str:
    """arq's queue (a sorted set): one per bus namespace, so tests never share jobs."""
    return f"{namespace}:expiration"


def job_id(namespace: str, order_id: UUID) -> str:
    return f"{namespace}:order-expiry:{order_id}"


def expiration_event_id(order_id: UUID) -> UUID:
    """The same id every time for one order: JetStream drops a second publish."""
    return uuid5(_EVENT_IDS, f"expiration.complete:{order_id}")


def fires_at(expires_at: datetime, grace: timedelta) -> datetime:
    """When the expiry of an order that expires at ``expires_at`` is announced."""
    return expires_at + grace


class Scheduler:
    """The ``order.created`` handler: it owns the Redis connection jobs are enqueued on."""

    def __init__(self, redis: ArqRedis, namespace: str, *, grace: timedelta) -> None:
        self._redis = redis
        self._namespace = namespace
        self._grace = grace

    async def on_order_created(self, event: OrderCreated, _: None) -> None:
        order_id = event.data.id
        moment = fires_at(event.data.expires_at, self._grace)
        job = await self._redis.enqueue_job(
            JOB_FUNCTION,
            str(order_id),
            outgoing_headers(),
            _job_id=job_id(self._namespace, order_id),
            _queue_name=queue_name(self._namespace),
            _defer_until=moment,
        )
        if job is None:
            logger.info("Expiry of order %s is already scheduled", order_id)
        else:
            JOBS_SCHEDULED.inc()
            logger.info("Expiry of order %s fires at %s", order_id, moment.isoformat())


async def publish_expiration(
    ctx: dict[str, Any], order_id: str, origin: dict[str, str] | None = None
) -> None:
    """The arq job: tell the platform the order's reservation window is over. ``origin``:
    the scheduling event's request id and trace (None for jobs queued before it existed)."""
    with continuing("expiration", origin, "expire order", order_id=order_id):
        await _publish_expiration(ctx, UUID(order_id))


async def _publish_expiration(ctx: dict[str, Any], order: UUID) -> None:
    bus: Bus = ctx["bus"]
    event = ExpirationComplete(
        id=expiration_event_id(order), data=ExpirationCompleteData(order_id=order)
    )
    subject = bus.names.subject(event.type)
    try:
        await bus.publish(
            subject, event.to_bytes(), msg_id=str(event.id), headers=outgoing_headers()
        )
    except Exception as exc:
        attempt: int = ctx.get("job_try", 1)
        logger.warning("Publishing expiry of order %s failed (try %d): %s", order, attempt, exc)
        raise Retry(defer=min(2**attempt * 0.25, MAX_RETRY_DELAY_SECONDS)) from exc
    JOBS_FIRED.inc()
    if isinstance(due_ms := ctx.get("score"), int | float):  # arq: when the job was due
        LATENESS.observe(max(time.time() - due_ms / 1000, 0.0))
    logger.info("Order %s expired", order)
