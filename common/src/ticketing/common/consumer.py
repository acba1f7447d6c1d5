"""The consumer runner: a service's durable JetStream consumer and its delivery rules.

- One durable pull consumer per service (replicas share it, so each event goes to one replica).
- A handler runs inside a unit of work; the event id is recorded in the same transaction, so a
  redelivered event is skipped (idempotency), and the message is acked only after the commit.
- A failing handler's message is nak'ed with a growing delay; on its last allowed delivery it
  is copied to the dead-letter stream and terminated, so it neither blocks later messages nor
  retries forever. An unparseable message is dead-lettered at once.
- A handler that finds the event too early (a replica at version n-2 receiving n) raises
  ``EventOutOfOrder``: the message is nak'ed and comes back after its predecessor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy.exc import IntegrityError

from ticketing.common.bus import Bus
from ticketing.common.events import Event, UnknownEventError, parse_event
from ticketing.common.uow import UnitOfWork

logger = logging.getLogger("ticketing.consumer")

Handler = Callable[[Any, Any], Awaitable[None]]
Subscriptions = Mapping[type[Event], Handler]
UnitOfWorkFactory = Callable[[], UnitOfWork]
"""Services without a database (the expiration worker) pass None: their handlers must be
idempotent on their own (e.g. an arq job id derived from the event) and receive None."""


class EventOutOfOrder(Exception):  # noqa: N818 - it is a signal, not a failure
    """The event builds on a version this replica has not seen yet: try again later."""


class EventConsumer:
    def __init__(
        self,
        *,
        durable: str,
        bus: Bus,
        subscriptions: Subscriptions,
        unit_of_work: UnitOfWorkFactory | None,
        max_deliver: int = 8,
        backoff_seconds: list[float] | None = None,
        ack_wait_seconds: float = 30,
    ) -> None:
        self.durable = durable
        self._bus = bus
        self._handlers = {cls.TYPE: handler for cls, handler in subscriptions.items()}
        self._unit_of_work = unit_of_work
        self._max_deliver = max_deliver
        self._backoff = backoff_seconds or [0.2, 0.5, 1, 2, 5]
        self._ack_wait = ack_wait_seconds
        self._subscription: Any = None

    async def run(self) -> None:
        """Fetch and handle messages until cancelled."""
        subscription = self._subscription or await self.subscribe()
        try:
            while True:
                # Python 3.11's wait_for (inside nats-py's fetch) can swallow a cancellation
                # that lands in the same loop turn as a message; the task still records it.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError()
                try:
                    messages = await subscription.fetch(batch=20, timeout=1)
                except (NatsTimeoutError, TimeoutError):
                    continue
                except Exception as exc:
                    logger.warning("%s: fetch failed (%s); retrying", self.durable, exc)
                    await asyncio.sleep(0.5)
                    continue
                for message in messages:
                    await self.handle(message)
        finally:
            self._subscription = None
            await subscription.unsubscribe()

    async def subscribe(self) -> Any:
        """Create (or update) the durable consumer and bind to it; ``run`` does it if needed."""
        names = self._bus.names
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subjects=[names.subject(t) for t in sorted(self._handlers)],
            max_deliver=self._max_deliver,
            ack_wait=self._ack_wait,
            max_ack_pending=1000,
        )
        await self._bus.js.add_consumer(names.stream, config=config)
        self._subscription = await self._bus.js.pull_subscribe_bind(
            durable=self.durable, stream=names.stream
        )
        return self._subscription

    async def handle(self, message: Msg) -> None:
        delivery = message.metadata.num_delivered or 1
        try:
            event = parse_event(message.data)
        except UnknownEventError as exc:
            await self._dead_letter(message, "unknown", str(exc))
            return
        try:
            await self._apply(event)
        except EventOutOfOrder:
            await self._retry_or_dead_letter(message, event, delivery, "event arrived out of order")
        except Exception as exc:
            logger.exception("%s: handling %s %s failed", self.durable, event.type, event.id)
            await self._retry_or_dead_letter(message, event, delivery, repr(exc))
        else:
            await message.ack()

    async def _apply(self, event: Event) -> None:
        handler = self._handlers[event.type]
        if self._unit_of_work is None:
            await handler(event, None)
            return
        async with self._unit_of_work() as uow:
            if await uow.already_processed(event.id):
                return
            await handler(event, uow)
            await uow.mark_processed(event)
            try:
                await uow.commit()
            except IntegrityError:
                # Another replica recorded the same event first: it is handled, nothing to do.
                await uow.rollback()
                if not await uow.already_processed(event.id):
                    raise

    async def _retry_or_dead_letter(
        self, message: Msg, event: Event, delivery: int, reason: str
    ) -> None:
        if delivery >= self._max_deliver:
            await self._dead_letter(message, event.type, reason)
            return
        delay = self._backoff[min(delivery - 1, len(self._backoff) - 1)]
        await message.nak(delay=delay)

    async def _dead_letter(self, message: Msg, event_type: str, reason: str) -> None:
        """Keep the message, visible and replayable, in the dead-letter stream; stop retrying."""
        names = self._bus.names
        stream_seq = message.metadata.sequence.stream if message.metadata.sequence else 0
        logger.error(
            "%s: dead-lettering %s (stream seq %s): %s",
            self.durable,
            event_type,
            stream_seq,
            reason,
        )
        await self._bus.publish(
            names.dlq_subject(self.durable, event_type.replace(".", "_")),
            message.data,
            msg_id=f"{self.durable}:{stream_seq}",
            headers={
                "Ticketing-Consumer": self.durable,
                "Ticketing-Subject": message.subject,
                "Ticketing-Error": reason[:1000],
                "Ticketing-Deliveries": str(message.metadata.num_delivered or 1),
            },
        )
        await message.term()


def should_apply(local_version: int | None, event_version: int) -> bool:
    """The version rule every replica follows (DESIGN §4), in one place.

    Version n+1 applies on top of n: True. A version the replica already has (n or older) is a
    duplicate: False, nothing to do. Anything further ahead, or an aggregate the replica has not
    seen yet (``local_version`` None), is early: ``EventOutOfOrder``, so it comes back later.
    """
    if local_version is not None and local_version >= event_version:
        return False
    if local_version is not None and local_version == event_version - 1:
        return True
    raise EventOutOfOrder(f"version {event_version} cannot follow {local_version}")
