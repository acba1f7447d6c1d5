"""The backstop behind the consumer's own dead-lettering (DESIGN §4 "Nothing vanishes at a
limit").

The consumer dead-letters a message itself long before JetStream's ``max_deliver``. Some
deliveries never reach that code, though: the process is killed mid-handler, ``ack_wait``
expires, or the dead-letter publish fails. A message that runs out of deliveries that way is
never delivered again, and nothing would show it was lost. JetStream announces that moment:
``$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>``, with the stream sequence.

An advisory is a plain NATS message, lost if nobody is listening at that instant, so it is
captured by a stream of its own (``<STREAM>_ADVISORIES``, bounded, created by
``ensure_advisory_stream`` before any consumer runs). Each service's backstop reads its
consumer's advisories through a durable consumer (``<consumer>_backstop``), fetches the
message by sequence (``get_msg``), dead-letters it like the consumer would, and acks the
advisory only then. The dead letter's id is ``<consumer>:<seq>``, the consumer's own, so a
message both of them dead-letter is kept once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from ticketing.common.bus import LIMIT_FIELDS, Bus, BusNames, ensure_stream
from ticketing.common.dlq import dead_letter, event_type_of

logger = logging.getLogger("ticketing.advisories")

ADVISORY_MAX_AGE_SECONDS = 7 * 24 * 3600
ADVISORY_MAX_BYTES = 64 * 1024 * 1024
RETRY_SECONDS = [0.5, 1, 2, 5]


def advisory_stream(names: BusNames) -> str:
    return f"{names.stream}_ADVISORIES"


def max_deliveries_subject(names: BusNames, consumer: str = "*") -> str:
    return f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{names.stream}.{consumer}"


async def ensure_advisory_stream(bus: Bus) -> None:
    """Capture the event stream's MAX_DELIVERIES advisories (all its consumers)."""
    config = StreamConfig(
        name=advisory_stream(bus.names),
        subjects=[max_deliveries_subject(bus.names)],
        storage=StorageType.FILE,
        max_age=ADVISORY_MAX_AGE_SECONDS,
        max_bytes=ADVISORY_MAX_BYTES,
        duplicate_window=120,  # JetStream's default, stated so reconciling finds no drift
        num_replicas=bus.stream_replicas,
    )
    # Like the event streams: created if missing, subjects corrected, limits reconciled only
    # by a bus built from settings (a service's), never by a tool's.
    fields = ("subjects",) if bus.retention is None else ("subjects", *LIMIT_FIELDS)
    await ensure_stream(bus.js, config, fields)


class MaxDeliveriesBackstop:
    """Dead-letters the messages JetStream gave up on for one consumer (a service's durable)."""

    def __init__(self, bus: Bus, *, consumer: str) -> None:
        self.consumer = consumer
        self._bus = bus
        self._subscription: Any = None
        self._failures = 0

    async def subscribe(self) -> Any:
        """Create the advisory stream and this backstop's durable on it; ``run`` does it too."""
        names = self._bus.names
        await ensure_advisory_stream(self._bus)
        durable = f"{self.consumer}_backstop"
        await self._bus.js.add_consumer(
            advisory_stream(names),
            config=ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                filter_subject=max_deliveries_subject(names, self.consumer),
                ack_wait=30,
            ),
        )
        self._subscription = await self._bus.js.pull_subscribe_bind(
            durable=durable, stream=advisory_stream(names)
        )
        return self._subscription

    async def run(self) -> None:
        """Handle advisories until cancelled."""
        subscription = self._subscription or await self.subscribe()
        try:
            while True:
                try:
                    advisories = await subscription.fetch(batch=10, timeout=1)
                except (NatsTimeoutError, TimeoutError):
                    continue
                except Exception as exc:
                    logger.warning("%s backstop: fetch failed (%s)", self.consumer, exc)
                    await asyncio.sleep(0.5)
                    continue
                for advisory in advisories:
                    await self.handle(advisory)
        finally:
            self._subscription = None
            await subscription.unsubscribe()

    async def handle(self, advisory: Msg) -> None:
        """Dead-letter what the advisory names, then ack it; on failure it comes back later."""
        try:
            await self._dead_letter(advisory)
            await advisory.ack()
            self._failures = 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failures += 1
            delay = RETRY_SECONDS[min(self._failures - 1, len(RETRY_SECONDS) - 1)]
            logger.warning("%s backstop: will retry an advisory (%s)", self.consumer, exc)
            try:
                await advisory.nak(delay=delay)
            except Exception:
                logger.warning("%s backstop: could not nak; JetStream redelivers", self.consumer)

    async def _dead_letter(self, advisory: Msg) -> None:
        try:
            body = json.loads(advisory.data)
            seq, deliveries = int(body["stream_seq"]), int(body.get("deliveries", 0))
        except (ValueError, KeyError, TypeError):
            logger.error("%s backstop: unreadable advisory %r", self.consumer, advisory.data)
            return
        names = self._bus.names
        try:
            message = await self._bus.js.get_msg(names.stream, seq)
        except NotFoundError:
            logger.error(
                "%s: stream seq %s ran out of deliveries and is gone from the stream too",
                self.consumer,
                seq,
            )
            return
        subject = message.subject or "?"
        await dead_letter(
            self._bus,
            consumer=self.consumer,
            event_type=event_type_of(names, subject) or "unknown",
            subject=subject,
            data=message.data or b"",
            stream_seq=seq,
            deliveries=deliveries,
            reason=f"JetStream stopped redelivering it after {deliveries} deliveries "
            "(MAX_DELIVERIES advisory): the consumer never settled it",
        )
