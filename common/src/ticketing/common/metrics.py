"""Prometheus metrics every process exposes at ``GET /metrics`` (DESIGN §10).

Every metric is labelled with the ``service`` that counts it (the tests run every service in
one process, on one registry), and HTTP latency with the route's *template*
(``/api/orders/{order_id}``), never the raw path, so an id cannot grow a new series.

What a loop would have to ask someone else for (the outbox's backlog in the database, a
consumer's pending counts and the streams' sizes from JetStream) is **sampled** every
``SAMPLE_SECONDS`` by ``sample_forever``, never per scrape: a scrape costs no query. The age of
the oldest unpublished outbox row is computed at scrape time from the sampled row's
``created_at``, so it keeps growing while a stuck relay publishes nothing.

A service's own figures (auth's throttles, payments' refunds, expiration's jobs,
notifications' mail) are defined in that service, on the same registry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

if TYPE_CHECKING:  # the bus counts its publishes here
    from ticketing.common.bus import Bus

logger = logging.getLogger("ticketing.metrics")

SAMPLE_SECONDS = 5.0
UNMATCHED_ROUTE = "unmatched"

HTTP_REQUEST_DURATION = Histogram(
    "ticketing_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and status",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter(
    "ticketing_events_published", "Events published to JetStream", ["service", "type"]
)
EVENTS_HANDLED = Counter(
    "ticketing_events_handled", "Events a consumer handled (acked)", ["service", "type"]
)
EVENTS_FAILED = Counter(
    "ticketing_events_failed",
    "Handler failures that count toward dead-lettering (not outages)",
    ["service", "type"],
)
EVENTS_DEAD_LETTERED = Counter(
    "ticketing_events_dead_lettered", "Events moved to the dead-letter stream", ["service", "type"]
)
OUTBOX_BACKLOG = Gauge(
    "ticketing_outbox_backlog", "Outbox rows not yet published (sampled)", ["service"]
)
OUTBOX_OLDEST_AGE = Gauge(
    "ticketing_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest unpublished outbox row (0 when none)",
    ["service"],
)
CONSUMER_PENDING = Gauge(
    "ticketing_consumer_pending_messages",
    "Messages in the stream the durable consumer has not been delivered yet (sampled)",
    ["service"],
)
CONSUMER_ACK_PENDING = Gauge(
    "ticketing_consumer_ack_pending_messages",
    "Messages delivered to the durable consumer and not acked yet (sampled)",
    ["service"],
)
STREAM_BYTES = Gauge("ticketing_stream_bytes", "Bytes a stream holds (sampled)", ["stream"])
STREAM_MAX_BYTES = Gauge("ticketing_stream_max_bytes", "A stream's size cap", ["stream"])
STREAM_MESSAGES = Gauge("ticketing_stream_messages", "Messages a stream holds", ["stream"])

_oldest_unpublished: dict[str, float | None] = {}  # service -> created_at (epoch seconds)


def event_type_of(subject: str, namespace: str) -> str | None:
    """``order.created`` for ``<namespace>.order.created``; None for any other subject."""
    prefix = f"{namespace}."
    return subject[len(prefix) :] if subject.startswith(prefix) else None


def metrics_router() -> APIRouter:
    """``GET /metrics``: this process's registry as Prometheus text; not in the API's docs."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router


def observe_request(service: str, method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUEST_DURATION.labels(service, method, route, str(status)).observe(seconds)


def record_outbox_backlog(service: str, unpublished: int, oldest: datetime | None) -> None:
    """What ``outbox.sample_backlog`` read: no SQL here, so a process without a database
    (the expiration worker, the client) does not load SQLAlchemy to expose its metrics."""
    OUTBOX_BACKLOG.labels(service).set(unpublished)
    if service not in _oldest_unpublished:
        OUTBOX_OLDEST_AGE.labels(service).set_function(lambda: _age_of_oldest(service))
    _oldest_unpublished[service] = None if oldest is None else oldest.timestamp()


def _age_of_oldest(service: str) -> float:
    created = _oldest_unpublished.get(service)
    return 0.0 if created is None else max(time.time() - created, 0.0)


async def sample_consumer(service: str, bus: Bus, durable: str) -> None:
    # Imported here: the client serves metrics too and has no bus; nats-py is ~6 MiB of it.
    from nats.js.errors import NotFoundError

    try:
        info = await bus.js.consumer_info(bus.names.stream, durable)
    except NotFoundError:  # not created yet: the consumer makes it as it starts
        return
    CONSUMER_PENDING.labels(service).set(info.num_pending or 0)
    CONSUMER_ACK_PENDING.labels(service).set(info.num_ack_pending or 0)


async def sample_streams(bus: Bus) -> None:
    """Both streams' sizes, for "near its size limit" and the dead-letter depth."""
    for stream in (bus.names.stream, bus.names.dlq_stream):
        info = await bus.js.stream_info(stream)
        STREAM_BYTES.labels(stream).set(info.state.bytes)
        STREAM_MESSAGES.labels(stream).set(info.state.messages)
        STREAM_MAX_BYTES.labels(stream).set(info.config.max_bytes or 0)


Sampler = Callable[[], Awaitable[None]]


def service_samplers(
    service: str, bus: Bus, durable: str | None, *, outbox_backlog: Sampler | None = None
) -> list[Sampler]:
    """What a process samples: its outbox (``outbox.sample_backlog``, if it has one), its
    durable consumer (if it has one), the streams."""

    async def consumer_backlog() -> None:
        if durable is not None:
            await sample_consumer(service, bus, durable)

    async def streams() -> None:
        await sample_streams(bus)

    return [*([outbox_backlog] if outbox_backlog else []), consumer_backlog, streams]


async def sample_forever(samplers: Sequence[Sampler], every: float = SAMPLE_SECONDS) -> None:
    """Run each sampler every ``every`` seconds; one failing (NATS or the database down)
    leaves its gauges at their last value and the others sampling."""
    while True:
        results = await asyncio.gather(*(sample() for sample in samplers), return_exceptions=True)
        for sample, result in zip(samplers, results, strict=True):
            if isinstance(result, Exception):
                logger.warning(
                    "Sampling %s failed: %s", getattr(sample, "__name__", sample), result
                )
        await asyncio.sleep(every)
