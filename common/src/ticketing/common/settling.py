"""What happens to one delivered message: handled and acked, held, sent back, or dead-lettered
(DESIGN §4; ``consumer.py`` says how messages get here and which run at once).

- A handler runs inside a unit of work that first claims the event id (``UnitOfWork.claim``),
  so a redelivered event is skipped (idempotency), even when two replicas get it at once;
  the message is acked only after the commit.
- **Outages spend nothing.** A transient failure (``failures.is_transient``: database, Redis,
  NATS, SMTP unavailable) holds the message: it is kept in progress (its ack deadline
  extended) and retried in place with backoff until the dependency is back, so an outage of
  any length dead-letters nothing. While any message is held the consumer fetches no more.
- **A rejected event is bounded.** A deterministic failure is nak'ed with a growing delay and
  counted; after ``max_failures`` it is copied to the dead-letter stream and terminated, so it
  neither blocks later messages nor retries forever. An unparseable message is dead-lettered
  at once.
- **Waiting is not failing.** A handler that finds the event too early (a replica at version
  n-1 receiving n+1) raises ``EventOutOfOrder``: the message is nak'ed to come back after its
  predecessor, spending no failure budget, until it has waited ``out_of_order_timeout``; then it
  is dead-lettered with that reason (its predecessor is lost).
- **Other versions' events are left to them.** In a rolling deploy the durable delivers what
  any running version needs (``durable.py``); a type this replica has no handler for goes back
  for one that has, spending nothing, and is dead-lettered only if none took it in time.
- **Nothing vanishes at the server's limit.** A message delivered for the last time the server
  allows is dead-lettered whatever happened before. Each message's ack/nak/term/dead-letter is
  its own: one that fails is logged, and the server redelivers that message alone.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nats.aio.msg import Msg

from ticketing.common.bus import Bus
from ticketing.common.correlation import handling
from ticketing.common.dlq import dead_letter, event_type_of
from ticketing.common.events import Event, UnknownEventError, parse_event
from ticketing.common.failures import is_transient
from ticketing.common.metrics import EVENTS_DEAD_LETTERED, EVENTS_FAILED, EVENTS_HANDLED
from ticketing.common.versions import EventOutOfOrder

if TYPE_CHECKING:  # a consumer without a database (the expiration worker) has no unit of work
    from ticketing.common.uow import UnitOfWork

logger = logging.getLogger("ticketing.consumer")

Handler = Callable[[Any, Any], Awaitable[None]]
UnitOfWorkFactory = Callable[[], "UnitOfWork"]
"""Services without a database (the expiration worker) pass None: their handlers must be
idempotent on their own (e.g. an arq job id derived from the event) and receive None."""

OUT_OF_ORDER_DELAYS = [0.1, 0.5, 1, 2, 5]
HOLD_DELAYS = [0.2, 0.5, 1, 2, 5]
UNHANDLED_DELAYS = [0.2, 0.5, 1, 2, 5]


@dataclass
class Rules:
    """How long and how often a message may be retried, sent back or waited for."""

    max_failures: int
    server_max_deliver: int
    backoff: list[float]
    ack_wait: float
    out_of_order_timeout: float
    unhandled_timeout: float


@dataclass
class Activity:
    """What the settler is doing now, for the consumer's fetching and readiness."""

    last_turn: float = field(default_factory=time.monotonic)
    """When a message was last settled or a held one last retried."""
    attempts: dict[int, float] = field(default_factory=dict)
    """Handler runs going on: the message's id() -> when this run began."""
    holding: set[int] = field(default_factory=set)
    """The id() of each message held by an outage right now."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a hold begins or ends, and by the consumer when a message is settled."""


class Settler:
    def __init__(
        self,
        *,
        durable: str,
        bus: Bus,
        handlers: Mapping[str, Handler],
        unit_of_work: UnitOfWorkFactory | None,
        rules: Rules,
    ) -> None:
        self.durable = durable
        self._bus = bus
        self._handlers = handlers
        self._unit_of_work = unit_of_work
        self._rules = rules
        self.activity = Activity()
        self._failures: dict[int, int] = {}  # stream seq -> deterministic failures seen here
        self._early_since: dict[int, float] = {}  # stream seq -> first found out of order here
        self._unhandled_since: dict[int, float] = {}  # stream seq -> first left for others

    async def handle(self, message: Msg) -> None:
        """Handle one message; whatever happens, it never raises (but a cancellation)."""
        try:
            await self._handle(message)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Acking, nak'ing or dead-lettering failed (NATS gone): the server redelivers it.
            logger.exception("%s: could not settle message %s", self.durable, seq_of(message))
        finally:
            self.activity.attempts.pop(id(message), None)
            self._unhold(message)

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
        holds = 0
        while True:
            self.activity.attempts[id(message)] = time.monotonic()
            try:
                await self._apply(event)
            except EventOutOfOrder as early:
                await self._wait_for_predecessor(message, event, str(early))
            except Exception as exc:
                if is_transient(exc):
                    holds += 1
                    await self._hold(message, event, exc, holds)
                    continue
                logger.exception("%s: handling %s %s failed", self.durable, event.type, event.id)
                await self._failed(message, event, repr(exc))
            else:
                self._failures.pop(seq_of(message), None)
                self._early_since.pop(seq_of(message), None)
                await message.ack()
                EVENTS_HANDLED.labels(self.durable, event.type).inc()
                logger.info("%s: handled %s %s", self.durable, event.type, event.id)
            self.activity.last_turn = time.monotonic()
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

    async def _hold(self, message: Msg, event: Event, error: Exception, holds: int) -> None:
        """A dependency is down: keep this message and wait (the consumer fetches no more
        meanwhile, and keeps extending the messages it has)."""
        self.activity.attempts.pop(id(message), None)
        if id(message) not in self.activity.holding:
            self.activity.holding.add(id(message))
            self.activity.changed.set()
        delay = min(HOLD_DELAYS[min(holds - 1, len(HOLD_DELAYS) - 1)], self._rules.ack_wait / 3)
        logger.warning(
            "%s: %s %s waits for an outage to end (%s); retrying in %.1fs",
            self.durable,
            event.type,
            event.id,
            error,
            delay,
        )
        try:
            await message.in_progress()
        except Exception as exc:  # NATS is down too: redelivery is the server's job then
            logger.warning("%s: could not extend %s (%s)", self.durable, seq_of(message), exc)
        await asyncio.sleep(delay)
        self.activity.last_turn = time.monotonic()

    def _unhold(self, message: Msg) -> None:
        if id(message) in self.activity.holding:
            self.activity.holding.discard(id(message))
            self.activity.changed.set()

    async def _wait_for_predecessor(self, message: Msg, event: Event, why: str) -> None:
        seq = seq_of(message)
        waited = time.monotonic() - self._early_since.setdefault(seq, time.monotonic())
        if waited >= self._rules.out_of_order_timeout or self._last_server_delivery(message):
            self._early_since.pop(seq, None)
            reason = f"its predecessor never arrived ({why}; waited {waited:.0f}s)"
            await self._dead_letter(message, event.type, reason)
            return
        await message.nak(delay=_nth(OUT_OF_ORDER_DELAYS, message.metadata.num_delivered or 1))

    async def _failed(self, message: Msg, event: Event, reason: str) -> None:
        seq = seq_of(message)
        failures = self._failures[seq] = self._failures.get(seq, 0) + 1
        EVENTS_FAILED.labels(self.durable, event.type).inc()
        if failures >= self._rules.max_failures or self._last_server_delivery(message):
            self._failures.pop(seq, None)
            await self._dead_letter(message, event.type, reason)
            return
        await message.nak(delay=_nth(self._rules.backoff, failures))

    async def _leave_for_others(self, message: Msg) -> None:
        """Another version's type: back to the durable, dead-lettered after the timeout."""
        seq, now, timeout = seq_of(message), time.monotonic(), self._rules.unhandled_timeout
        if len(self._unhandled_since) > 1000:  # forget those other replicas took long ago
            self._unhandled_since = {
                s: t for s, t in self._unhandled_since.items() if now - t < timeout
            }
        waited = now - self._unhandled_since.setdefault(seq, now)
        if waited >= timeout or self._last_server_delivery(message):
            self._unhandled_since.pop(seq, None)
            reason = f"no running replica of {self.durable} handles it (waited {waited:.0f}s)"
            await self._dead_letter(message, self._type_of(message) or "unknown", reason)
            return
        # Jitter: a delay in step with this replica's fetches would hand it back to this one.
        delay = _nth(UNHANDLED_DELAYS, message.metadata.num_delivered or 1)
        await message.nak(delay=delay + random.uniform(0, 1))

    def _type_of(self, message: Msg) -> str | None:
        """The type its subject names (an event's own subject or its replay subject)."""
        return event_type_of(self._bus.names, message.subject)

    def _last_server_delivery(self, message: Msg) -> bool:
        return (message.metadata.num_delivered or 1) >= self._rules.server_max_deliver

    async def _dead_letter(self, message: Msg, event_type: str, reason: str) -> None:
        """Keep the message, visible and replayable, in the dead-letter stream; stop retrying."""
        await dead_letter(
            self._bus,
            consumer=self.durable,
            event_type=event_type,
            subject=message.subject,
            data=message.data,
            stream_seq=seq_of(message),
            deliveries=message.metadata.num_delivered or 1,
            reason=reason,
        )
        await message.term()
        EVENTS_DEAD_LETTERED.labels(self.durable, event_type).inc()


def _nth(delays: list[float], n: int) -> float:
    """The n-th delay (1-based); the last one repeats."""
    return delays[min(n - 1, len(delays) - 1)]


def seq_of(message: Msg) -> int:
    sequence = message.metadata.sequence
    return sequence.stream if sequence else 0
