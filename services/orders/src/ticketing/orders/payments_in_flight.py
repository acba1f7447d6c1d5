"""Which orders have a ``payment.created`` on the stream that orders has not settled yet.

An order is cancelled for expiry only once its deadline (``expiresAt`` + the payment grace) has
passed by this service's clock, and only if no payment for it is still on its way here. The
grace covers a payment that takes a while to reach orders, but the clock alone cannot tell
whether one is still coming. The bus can:

- A replica that took the payment and was killed holds it until the durable's ack deadline
  passes (``consumer_ack_wait_seconds``, as long as the grace by default).
- A database outage holds it in the consumer. After the outage, the sweep and the expiry on
  the other replica would otherwise race the held payment.

The durable's ack floor is shared by every replica. Every message at or below it has been
settled (handled, or dead-lettered). So every ``payment.created`` that is unsettled lies after
the floor. Those are read from the stream, each message once per process, and their orders are
the answer.

The answer can only be too wide: a message after the floor may already be settled out of
order. An order held back by mistake is cancelled on a later pass, once the floor has moved.

A snapshot taken at moment t answers for every order due before t. Take a payment published
before the order was due. Either it was unsettled at t, and then it is in the snapshot. Or it
was settled before t, and then the order is complete and nobody asks. So one snapshot serves a
whole burst of expiries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from nats.js.errors import NotFoundError
from pydantic import ValidationError

from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.events import PaymentCreated

logger = logging.getLogger("ticketing.orders.payments_in_flight")


@dataclass(frozen=True)
class Snapshot:
    """The orders with a payment unsettled, read from ``taken_at`` (this service's clock) on:
    it includes every payment published before that moment and unsettled then."""

    taken_at: datetime
    orders: frozenset[UUID]


class PaymentsInFlight:
    """Orders' context: the payments the stream holds for it and it has not settled."""

    def __init__(self, durable: str) -> None:
        self.durable = durable
        self._bus: Bus | None = None
        self._after_floor: dict[int, UUID] = {}  # stream seq -> order id, each seq above the floor
        self._read_up_to = 0  # the last stream seq looked at
        self._latest: Snapshot | None = None
        self._lock = asyncio.Lock()  # one read at a time: handlers and the sweep share it

    @asynccontextmanager
    async def watching(self, bus: Bus) -> AsyncIterator[PaymentsInFlight]:
        """While the service runs: the bus it reads (``ServiceDefinition.resources``)."""
        self._bus = bus
        try:
            yield self
        finally:
            self._bus = None

    async def orders(self, *, since: datetime) -> frozenset[UUID]:
        """The orders with a payment unsettled, from a snapshot taken after ``since``.

        Every payment published before ``since`` and still unsettled is included. A snapshot
        taken after ``since`` is reused: a burst of expiries costs one read, not one each. The
        set can only be too wide (a payment settled since), never too narrow. Raises what NATS
        raises when the bus is down: then nothing may be cancelled for expiry."""
        async with self._lock:
            if self._latest is None or self._latest.taken_at <= since:
                self._latest = await self._snapshot()
            return self._latest.orders

    async def on_its_way(self, order_id: UUID, *, deadline: datetime) -> bool:
        """Whether a payment for the order, published before ``deadline``, is unsettled. A yes
        is checked again on a new snapshot: the payment may have been settled meanwhile."""
        if order_id not in await self.orders(since=deadline):
            return False
        return order_id in await self.orders(since=utcnow())

    async def _snapshot(self) -> Snapshot:
        if self._bus is None:
            raise RuntimeError("PaymentsInFlight is not watching a bus")
        bus, taken_at = self._bus, utcnow()
        info = await bus.js.consumer_info(bus.names.stream, self.durable)
        floor = info.ack_floor.stream_seq if info.ack_floor else 0
        self._after_floor = {s: o for s, o in self._after_floor.items() if s > floor}
        await self._read_payments_after(bus, max(floor, self._read_up_to))
        return Snapshot(taken_at, frozenset(self._after_floor.values()))

    async def _read_payments_after(self, bus: Bus, seq: int) -> None:
        subject = bus.names.subject(PaymentCreated.TYPE)
        while True:
            try:
                message = await bus.js.get_msg(
                    bus.names.stream, seq=seq + 1, subject=subject, next=True
                )
            except NotFoundError:
                return  # none after it (yet)
            seq = self._read_up_to = message.seq or seq + 1
            try:
                payment = PaymentCreated.model_validate_json(message.data or b"")
            except ValidationError:
                logger.warning("unreadable payment.created at stream seq %d: ignored", seq)
                continue
            self._after_floor[seq] = payment.data.order_id
