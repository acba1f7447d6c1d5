"""The consumer runner: a service's durable JetStream consumer and its delivery rules (§4).

- One durable pull consumer per service (replicas share it, so each event goes to one replica).
- A handler runs inside a unit of work that first claims the event id (``UnitOfWork.claim``),
  so a redelivered event is skipped (idempotency), even when two replicas get it at once;
  the message is acked only after the commit.
- **Outages spend nothing.** A transient failure (``failures.is_transient``: database, Redis,
  NATS, SMTP unavailable) holds the message: it is kept in progress (its ack deadline extended,
  and that of the batch waiting behind it) and retried in place with backoff until the
  dependency is back, so an outage of any length dead-letters nothing and the backlog is then
  handled in stream order.
- **A rejected event is bounded.** A deterministic failure is nak'ed with a growing delay and
  counted; after ``max_deliver`` failures it is copied to the dead-letter stream and
  terminated, so it neither blocks later messages nor retries forever. An unparseable message
  is dead-lettered at once.
- **Waiting is not failing.** A handler that finds the event too early (a replica at version
  n-1 receiving n+1) raises ``EventOutOfOrder``: the message is nak'ed to come back after its
  predecessor, spending no failure budget, until it has waited ``out_of_order_timeout``; then it
  is dead-lettered with that reason (its predecessor is lost).
- **Other versions' events are left to them.** In a rolling deploy the durable delivers what
  any running version needs (``durable.py``); a type this replica has no handler for goes back
  for one that has, spending nothing, and is dead-lettered only if none took it in time.
- **Nothing vanishes at the server's limit.** The server's ``max_deliver`` is set far above the
  failure budget, and a message delivered for the last time the server allows is dead-lettered
  whatever happened before. Each message's ack/nak/term/dead-letter is isolated from the others.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError

from ticketing.common.bus import Bus
from ticketing.common.correlation import handling
from ticketing.common.dlq import dead_letter, event_type_of, replay_filter
from ticketing.common.durable import DurableConfigError, DurableSpec, ensure_durable
from ticketing.common.events import Event, UnknownEventError, parse_event
from ticketing.common.failures import is_transient
from ticketing.common.metrics import EVENTS_DEAD_LETTERED, EVENTS_FAILED, EVENTS_HANDLED
from ticketing.common.uow import UnitOfWork
from ticketing.common.versions import EventOutOfOrder

logger = logging.getLogger("ticketing.consumer")

Handler = Callable[[Any, Any], Awaitable[None]]
Subscriptions = Mapping[type[Event], Handler]
UnitOfWorkFactory = Callable[[], UnitOfWork]
"""Services without a database (the expiration worker) pass None: their handlers must be
idempotent on their own (e.g. an arq job id derived from the event) and receive None."""

BATCH = 20
SERVER_DELIVERIES_PER_FAILURE = 25  # out-of-order waits and crashes use deliveries too
OUT_OF_ORDER_DELAYS = [0.1, 0.5, 1, 2, 5]
HOLD_DELAYS = [0.2, 0.5, 1, 2, 5]
UNHANDLED_DELAYS = [0.2, 0.5, 1, 2, 5]


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
        out_of_order_timeout_seconds: float = 600,
        unhandled_timeout_seconds: float = 900,
    ) -> None:
        self.durable = durable
        self._bus = bus
        self._handlers = {cls.TYPE: handler for cls, handler in subscriptions.items()}
        self._unit_of_work = unit_of_work
        self._max_failures = max_deliver
        self._server_max_deliver = max_deliver * SERVER_DELIVERIES_PER_FAILURE
        self._backoff = backoff_seconds or [0.2, 0.5, 1, 2, 5]
        self._ack_wait = ack_wait_seconds
        self._out_of_order_timeout = out_of_order_timeout_seconds
        self._unhandled_timeout = unhandled_timeout_seconds
        self._failures: dict[int, int] = {}  # stream seq -> deterministic failures seen here
        self._early_since: dict[int, float] = {}  # stream seq -> first found out of order here
        self._waiting: Sequence[Msg] = ()  # the rest of the batch, kept alive while we hold
        self._holds = 0  # consecutive transient failures: the hold's backoff
        self._subscription: Any = None
        self._unhandled_since: dict[int, float] = {}  # stream seq -> first left for others
        self.last_progress = time.monotonic()
        self.problem: str | None = None  # why it cannot run (its durable): for readiness

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
                    messages = await subscription.fetch(batch=BATCH, timeout=1)
                except (NatsTimeoutError, TimeoutError):
                    self.last_progress = time.monotonic()
                    continue
                except Exception as exc:
                    logger.warning("%s: fetch failed (%s); retrying", self.durable, exc)
                    await asyncio.sleep(0.5)
                    continue
                for index, message in enumerate(messages):
                    self._waiting = messages[index + 1 :]
                    await self.handle(message)
                    self.last_progress = time.monotonic()
                self._waiting = ()
        finally:
            self._subscription = None
            await subscription.unsubscribe()

    async def subscribe(self) -> Any:
        """Create or widen the durable (``durable.py``), bind to it; ``run`` does it if needed."""
        names = self._bus.names
        spec = DurableSpec(
            stream=names.stream,
            durable=self.durable,
            # and its replayed dead letters, which no other consumer receives (dlq.py)
            subjects=[
                *(names.subject(t) for t in sorted(self._handlers)),
                replay_filter(names, self.durable),
            ],
            max_deliver=self._server_max_deliver,
            ack_wait_seconds=self._ack_wait,
            max_ack_pending=1000,
        )
        try:
            await ensure_durable(self._bus, spec)
        except DurableConfigError as exc:
            self.problem = str(exc)
            logger.error("%s: cannot consume: %s", self.durable, exc)
            raise
        self.problem = None
        self._subscription = await self._bus.js.pull_subscribe_bind(
            durable=self.durable, stream=names.stream
        )
        return self._subscription

    async def handle(self, message: Msg) -> None:
        """Handle one message; whatever happens, it never raises into the fetch loop."""
        try:
            await self._handle(message)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Acking, nak'ing or dead-lettering failed (NATS gone): the server redelivers it.
            logger.exception("%s: could not settle message %s", self.durable, _seq(message))

    async def _handle(self, message: Msg) -> None:
        try:
            event = parse_event(message.data)
        except UnknownEventError as exc:
            if self._type_of(message) not in self._handlers:  # a newer version's event type
                await self._leave_for_others(message)
            else:
                await self._dead_letter(message, "unknown", str(exc))
            return
        if event.type not in self._handlers:
            await self._leave_for_others(message)
            return
        with handling(self.durable, event.id, event.type, message.headers):
            await self._settle(message, event)

    async def _settle(self, message: Msg, event: Event) -> None:
        while True:
            try:
                await self._apply(event)
            except EventOutOfOrder as early:
                await self._wait_for_predecessor(message, event, str(early))
            except Exception as exc:
                if is_transient(exc):
                    await self._hold(message, event, exc)
                    continue
                logger.exception("%s: handling %s %s failed", self.durable, event.type, event.id)
                await self._failed(message, event, repr(exc))
            else:
                self._holds = 0
                self._failures.pop(_seq(message), None)
                self._early_since.pop(_seq(message), None)
                await message.ack()
                EVENTS_HANDLED.labels(self.durable, event.type).inc()
                logger.info("%s: handled %s %s", self.durable, event.type, event.id)
            return

    async def _apply(self, event: Event) -> None:
        handler = self._handlers[event.type]
        if self._unit_of_work is None:
            await handler(event, None)
            return
        async with self._unit_of_work() as uow:
            if not await uow.claim(event):
                return  # handled already, here or by another replica
            await handler(event, uow)
            await uow.commit()

    async def _hold(self, message: Msg, event: Event, error: Exception) -> None:
        """A dependency is down: keep this message (and the batch behind it) and wait."""
        self._holds += 1
        delay = min(HOLD_DELAYS[min(self._holds - 1, len(HOLD_DELAYS) - 1)], self._ack_wait / 3)
        logger.warning(
            "%s: %s %s waits for an outage to end (%s); retrying in %.1fs",
            self.durable,
            event.type,
            event.id,
            error,
            delay,
        )
        for kept in (message, *self._waiting):
            try:
                await kept.in_progress()
            except Exception as exc:  # NATS is down too: redelivery is the server's job then
                logger.warning("%s: could not extend %s (%s)", self.durable, _seq(kept), exc)
                break
        await asyncio.sleep(delay)
        self.last_progress = time.monotonic()

    async def _wait_for_predecessor(self, message: Msg, event: Event, why: str) -> None:
        self._holds = 0
        seq = _seq(message)
        waited = time.monotonic() - self._early_since.setdefault(seq, time.monotonic())
        if waited >= self._out_of_order_timeout or self._last_server_delivery(message):
            self._early_since.pop(seq, None)
            reason = f"its predecessor never arrived ({why}; waited {waited:.0f}s)"
            await self._dead_letter(message, event.type, reason)
            return
        delivery = message.metadata.num_delivered or 1
        await message.nak(
            delay=OUT_OF_ORDER_DELAYS[min(delivery - 1, len(OUT_OF_ORDER_DELAYS) - 1)]
        )

    async def _failed(self, message: Msg, event: Event, reason: str) -> None:
        self._holds = 0
        seq = _seq(message)
        failures = self._failures[seq] = self._failures.get(seq, 0) + 1
        EVENTS_FAILED.labels(self.durable, event.type).inc()
        if failures >= self._max_failures or self._last_server_delivery(message):
            self._failures.pop(seq, None)
            await self._dead_letter(message, event.type, reason)
            return
        await message.nak(delay=self._backoff[min(failures - 1, len(self._backoff) - 1)])

    async def _leave_for_others(self, message: Msg) -> None:
        """Another version's type: back to the durable, dead-lettered after the timeout."""
        seq, now = _seq(message), time.monotonic()
        if len(self._unhandled_since) > 1000:  # forget those other replicas took long ago
            self._unhandled_since = {
                s: t for s, t in self._unhandled_since.items() if now - t < self._unhandled_timeout
            }
        waited = now - self._unhandled_since.setdefault(seq, now)
        if waited >= self._unhandled_timeout or self._last_server_delivery(message):
            self._unhandled_since.pop(seq, None)
            reason = f"no running replica of {self.durable} handles it (waited {waited:.0f}s)"
            await self._dead_letter(message, self._type_of(message) or "unknown", reason)
            return
        delivery = message.metadata.num_delivered or 1
        # Jitter: a delay in step with this replica's fetches would hand it back to this one.
        delay = UNHANDLED_DELAYS[min(delivery - 1, len(UNHANDLED_DELAYS) - 1)]
        await message.nak(delay=delay + random.uniform(0, 1))

    def _type_of(self, message: Msg) -> str | None:
        """The type its subject names (an event's own subject or its replay subject)."""
        return event_type_of(self._bus.names, message.subject)

    def _last_server_delivery(self, message: Msg) -> bool:
        return (message.metadata.num_delivered or 1) >= self._server_max_deliver

    async def _dead_letter(self, message: Msg, event_type: str, reason: str) -> None:
        """Keep the message, visible and replayable, in the dead-letter stream; stop retrying."""
        await dead_letter(
            self._bus,
            consumer=self.durable,
            event_type=event_type,
            subject=message.subject,
            data=message.data,
            stream_seq=_seq(message),
            deliveries=message.metadata.num_delivered or 1,
            reason=reason,
        )
        await message.term()
        EVENTS_DEAD_LETTERED.labels(self.durable, event_type).inc()


def _seq(message: Msg) -> int:
    sequence = message.metadata.sequence
    return sequence.stream if sequence else 0
