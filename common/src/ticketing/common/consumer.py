"""The consumer runner: a service's durable JetStream consumer, handling different aggregates'
events at once and each aggregate's in order (DESIGN §4; what happens to each message, from
claim to dead letter, is ``settling.py``).

- One durable pull consumer per service (replicas share it, so each event goes to one replica).
- **Concurrent across aggregates, in order within one.** Each message runs as soon as one of
  ``concurrency`` slots is free and every earlier message of its aggregates (``aggregates.py``)
  has been settled here (``lanes.py``). A slow or failing handler of one aggregate holds up that
  aggregate's later events only; the rest flow past it. Across replicas the version rule keeps
  the order (an early event waits for its predecessor, spending nothing).
- **Fetched as they come, bounded.** A fetch returns what the server has (up to the room left)
  without waiting for a batch to fill, so one event is not kept waiting for the next ones. At
  most ``intake`` messages are held at once (running or waiting their turn), far below the
  durable's ``max_ack_pending``.
- **No ack deadline passes for a message held here.** Every message taken in and not settled is
  kept in progress every third of ``ack_wait``: one waiting behind a slow one of its aggregate
  is never redelivered meanwhile.
- **An outage stops the intake.** While a message is held by an outage (``settling.py``), no
  more are fetched, and none taken in starts (one fetch may have been under way): the backlog
  waits, kept in progress or on the stream, and is handled in order when the outage ends.
- **Nothing vanishes at the server's limit.** The server's ``max_deliver`` is set far above the
  failure budget (``SERVER_DELIVERIES_PER_FAILURE``), and the ``MAX_DELIVERIES`` advisory is
  the backstop (``advisories.py``).
- **Stalls show.** ``last_progress`` is the last fetch, settled message or retry of a held one,
  or the start of the oldest handler run still going, whichever is older: ``/readyz`` fails
  when the whole consumer stopped and when one handler hangs while the others carry on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError

from ticketing.common.aggregates import aggregate_keys
from ticketing.common.bus import Bus
from ticketing.common.dlq import replay_filter
from ticketing.common.durable import DurableConfigError, DurableSpec, ensure_durable
from ticketing.common.events import Event
from ticketing.common.lanes import Lanes
from ticketing.common.settling import Handler, Rules, Settler, UnitOfWorkFactory, seq_of

logger = logging.getLogger("ticketing.consumer")

__all__ = ["EventConsumer", "Handler", "Subscriptions", "UnitOfWorkFactory"]

Subscriptions = Mapping[type[Event], Handler]

DEFAULT_CONCURRENCY = 4  # handlers at once: on 2 cores they mostly wait for the database
INTAKE_PER_SLOT = 4  # messages held per slot: room for lanes waiting behind a slow aggregate
SERVER_DELIVERIES_PER_FAILURE = 25  # out-of-order waits and crashes use deliveries too
FETCH_WAIT_SECONDS = 1.0  # an idle fetch's wait: a turn a second, for readiness


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
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self.durable = durable
        self._bus = bus
        self._handlers = {cls.TYPE: handler for cls, handler in subscriptions.items()}
        self._rules = Rules(
            max_failures=max_deliver,
            server_max_deliver=max_deliver * SERVER_DELIVERIES_PER_FAILURE,
            backoff=backoff_seconds or [0.2, 0.5, 1, 2, 5],
            ack_wait=ack_wait_seconds,
            out_of_order_timeout=out_of_order_timeout_seconds,
            unhandled_timeout=unhandled_timeout_seconds,
        )
        self._settler = Settler(
            durable=durable,
            bus=bus,
            handlers=self._handlers,
            unit_of_work=unit_of_work,
            rules=self._rules,
        )
        self._concurrency = concurrency
        self._intake = concurrency * INTAKE_PER_SLOT
        self._in_hand: dict[int, Msg] = {}  # id() -> each message taken in and not settled
        self._last_fetch = time.monotonic()
        self._subscription: Any = None
        self.problem: str | None = None  # why it cannot run (its durable): for readiness

    @property
    def last_progress(self) -> float:
        """``time.monotonic()`` of its last sign of life, for readiness (module docstring)."""
        activity = self._settler.activity
        latest = max(self._last_fetch, activity.last_turn)
        return min(latest, *activity.attempts.values()) if activity.attempts else latest

    async def run(self) -> None:
        """Fetch and handle messages until cancelled."""
        subscription = self._subscription or await self.subscribe()
        lanes = Lanes(self._concurrency)
        keeper = asyncio.create_task(self._keep_in_progress())
        try:
            while True:
                await self._wait_for_room()
                messages = await self._fetch(subscription, self._intake - len(self._in_hand))
                for message in messages:
                    self._take(lanes, message)
        finally:
            keeper.cancel()
            await lanes.cancel()
            self._in_hand.clear()
            self._subscription = None
            await subscription.unsubscribe()

    async def _fetch(self, subscription: Any, room: int) -> list[Msg]:
        # Python 3.11's wait_for (inside nats-py's fetch) can swallow a cancellation that
        # lands in the same loop turn as a message; the task still records it.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError()
        try:
            messages: list[Msg] = await subscription.fetch(batch=room, timeout=FETCH_WAIT_SECONDS)
        except (NatsTimeoutError, TimeoutError):
            messages = []
        except Exception as exc:
            logger.warning("%s: fetch failed (%s); retrying", self.durable, exc)
            await asyncio.sleep(0.5)
            return []
        self._last_fetch = time.monotonic()
        return messages

    async def _wait_for_room(self) -> None:
        """Until fewer than ``intake`` messages are held and no outage holds one."""
        await self._wait_until(lambda: len(self._in_hand) < self._intake and not self._outage)

    @property
    def _outage(self) -> bool:
        return bool(self._settler.activity.holding)

    async def _wait_until(self, condition: Callable[[], bool]) -> None:
        activity = self._settler.activity
        while not condition():
            activity.changed.clear()
            await activity.changed.wait()

    def _take(self, lanes: Lanes, message: Msg) -> None:
        self._in_hand[id(message)] = message

        def settled() -> None:
            self._in_hand.pop(id(message), None)
            self._settler.activity.changed.set()

        async def job() -> None:
            # One fetched while a hold began (its fetch was under way) waits for the end too.
            await self._wait_until(lambda: not self._outage)
            await self._settler.handle(message)

        lanes.submit(aggregate_keys(message.data), job, done=settled)

    async def _keep_in_progress(self) -> None:
        """Extend the ack deadline of every message held, every third of ``ack_wait``."""
        while True:
            await asyncio.sleep(self._rules.ack_wait / 3)
            for message in list(self._in_hand.values()):
                try:
                    await message.in_progress()
                except Exception as exc:  # settled meanwhile, or NATS is down: the server's job
                    logger.debug("%s: could not extend %s (%s)", self.durable, seq_of(message), exc)
                    if not self._bus.is_connected:
                        break

    async def handle(self, message: Msg) -> None:
        """Handle one message by itself (``settling.py``); it never raises into the caller."""
        await self._settler.handle(message)

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
            max_deliver=self._rules.server_max_deliver,
            ack_wait_seconds=self._rules.ack_wait,
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
