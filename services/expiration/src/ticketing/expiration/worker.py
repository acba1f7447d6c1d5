"""The worker process, assembled: arq worker + NATS consumer + probe server in one event loop.

``running_worker(settings)`` starts everything and stops it on exit (tests use it to run the
worker in-process and to restart it); ``run(settings, stop)`` is what ``__main__`` runs until
SIGTERM. Jobs live in Redis, so a stopped worker loses nothing: the next one runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import structlog
from arq import Worker, func
from arq.connections import ArqRedis, RedisSettings, create_pool

from ticketing.common.advisories import MaxDeliveriesBackstop, ensure_advisory_stream
from ticketing.common.background import supervise
from ticketing.common.bus import Bus
from ticketing.common.consumer import EventConsumer
from ticketing.common.events import OrderCreated
from ticketing.common.health import Dependency, bus_answers, probe_app
from ticketing.common.metrics import sample_forever, service_samplers
from ticketing.common.tracing import instrument_redis
from ticketing.expiration.config import ExpirationSettings
from ticketing.expiration.health import HealthServer
from ticketing.expiration.jobs import JOB_FUNCTION, Scheduler, publish_expiration, queue_name

logger = logging.getLogger("ticketing.expiration")

DURABLE = "expiration"
# A job id stays taken while its result is kept: long enough to outlive any redelivery.
KEEP_RESULT = timedelta(days=1)
JOB_FINISH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class RunningWorker:
    health_url: str
    redis: ArqRedis
    queue_name: str


def _arq_worker(settings: ExpirationSettings, redis: ArqRedis, bus: Bus) -> Worker:
    return Worker(
        functions=[func(publish_expiration, name=JOB_FUNCTION, max_tries=settings.job_max_tries)],
        redis_pool=redis,
        queue_name=queue_name(settings.bus_namespace),
        poll_delay=settings.poll_delay_seconds,
        max_jobs=settings.max_jobs,
        keep_result=KEEP_RESULT,
        handle_signals=False,
        # Without it, abort() on a deferred job would run it at once (see STACK-NOTES).
        allow_abort_jobs=True,
        ctx={"bus": bus},
    )


def _consumer(settings: ExpirationSettings, bus: Bus, scheduler: Scheduler) -> EventConsumer:
    return EventConsumer(
        durable=DURABLE,
        bus=bus,
        subscriptions={OrderCreated: scheduler.on_order_created},
        unit_of_work=None,  # no database: the arq job id makes the handler idempotent
        max_deliver=settings.consumer_max_deliver,
        backoff_seconds=settings.consumer_backoff_seconds,
        ack_wait_seconds=settings.consumer_ack_wait_seconds,
        concurrency=settings.consumer_concurrency,
    )


async def _stop_arq(worker: Worker, polling: asyncio.Task[None]) -> None:
    """Stop taking jobs, let running ones (one publish each) finish, then close."""
    polling.cancel()
    await asyncio.gather(polling, return_exceptions=True)
    running = [task for task in worker.tasks.values() if not task.done()]
    if running:
        await asyncio.wait(running, timeout=JOB_FINISH_TIMEOUT_SECONDS)
    try:
        await worker.close()  # cancels what is still running (arq retries it), closes Redis
    except Exception as exc:  # Redis already gone: nothing left to clean up there
        logger.warning("Closing the arq worker failed: %s", exc)


@contextlib.asynccontextmanager
async def running_worker(settings: ExpirationSettings) -> AsyncIterator[RunningWorker]:
    async with contextlib.AsyncExitStack() as stack:
        bus = Bus.from_settings(settings, service=DURABLE)
        await bus.connect()
        stack.push_async_callback(bus.close)
        redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        instrument_redis(redis, DURABLE)
        # Every task below starts in the worker's log context; the caller's stays its own.
        caller_context = structlog.contextvars.bind_contextvars(service=DURABLE)
        worker = _arq_worker(settings, redis, bus)
        polling = asyncio.create_task(supervise("arq worker", worker.main), name="arq")
        stack.push_async_callback(_stop_arq, worker, polling)
        grace = timedelta(seconds=settings.payment_grace_seconds)
        scheduler = Scheduler(redis, settings.bus_namespace, grace=grace)
        consumer = _consumer(settings, bus, scheduler)
        # What JetStream gives up on despite the consumer is dead-lettered all the same.
        await ensure_advisory_stream(bus)
        backstop = MaxDeliveriesBackstop(bus, consumer=DURABLE)
        stack.push_async_callback(_cancel, asyncio.create_task(supervise("consumer", consumer.run)))
        stack.push_async_callback(
            _cancel, asyncio.create_task(supervise("max-deliveries-backstop", backstop.run))
        )
        samplers = service_samplers(DURABLE, bus, DURABLE)  # no outbox: no database
        sampling = supervise("metrics-sampler", functools.partial(sample_forever, samplers))
        stack.push_async_callback(_cancel, asyncio.create_task(sampling))
        probes = probe_app(
            "Ticketing expiration worker",
            [Dependency("Redis", redis.ping), Dependency("NATS", bus_answers(bus))],
        )
        health = HealthServer(probes, settings.health_host, settings.health_port)
        stack.push_async_callback(_stop_health, health, asyncio.create_task(health.serve()))
        structlog.contextvars.reset_contextvars(**caller_context)
        yield RunningWorker(health.url, redis, queue_name(settings.bus_namespace))


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _stop_health(health: HealthServer, serving: asyncio.Task[None]) -> None:
    health.stop()
    await asyncio.gather(serving, return_exceptions=True)


async def run(settings: ExpirationSettings, stop: asyncio.Event) -> None:
    """Run the worker until ``stop`` is set."""
    async with running_worker(settings) as worker:
        logger.info("Expiration worker ready (probes on %s)", worker.health_url)
        await stop.wait()
