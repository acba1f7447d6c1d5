"""What the bus costs by itself, and when the expiration cancels: both read on the platform's
own NATS server.

- raw round trip: a JetStream publish (its PubAck awaited) until a push subscriber of a stream
  of the benchmark's own has the message: the floor under any event's propagation;
- expiration lateness: ``order.cancelled`` as it reaches the bus, against the moment the order
  may first be cancelled (``expiresAt`` + the payment grace, DESIGN §5);
- ``drained``: until every consumer of the platform's stream has handled all it was sent, so a
  row's backlog does not share the cores with the row after it.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import nats
from nats.aio.msg import Msg
from nats.js.api import StreamConfig

from benchmarks.load import Measured

ROUND_TRIPS = 300


async def raw_round_trip(nats_url: str) -> Measured:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream = f"BENCH{int(time.time())}"
    subject = f"bench{stream.lower()}.ping"
    await js.add_stream(StreamConfig(name=stream, subjects=[subject]))
    arrived: asyncio.Queue[float] = asyncio.Queue()

    async def on_message(msg: Msg) -> None:
        arrived.put_nowait(time.perf_counter())
        await msg.ack()

    await js.subscribe(subject, cb=on_message, manual_ack=True)
    row = Measured("nats-py", ROUND_TRIPS, 0.0)
    started_all, cpu = time.perf_counter(), time.process_time()
    for n in range(ROUND_TRIPS):
        started = time.perf_counter()
        await js.publish(subject, b'{"n": %d}' % n)
        row.latencies_ms.append((await arrived.get() - started) * 1000)
    row.seconds = time.perf_counter() - started_all
    row.driver_cpu = (time.process_time() - cpu) / row.seconds
    await js.delete_stream(stream)
    await nc.close()
    return row.summarise()


async def drained(nats_url: str, stream: str, *, timeout: float = 300, quiet: float = 1.0) -> None:
    """Until no consumer of ``stream`` has a message pending or unacknowledged and the stream
    took no new message for ``quiet`` seconds (the relays may still be publishing), within
    ``timeout``; ``TimeoutError`` names the consumers still behind."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    deadline, last_seq, settled_since = time.monotonic() + timeout, -1, time.monotonic()
    try:
        while True:
            seq = (await js.stream_info(stream)).state.last_seq
            behind = [
                f"{c.name} ({c.num_pending} pending, {c.num_ack_pending} unacked)"
                for c in await js.consumers_info(stream)
                if c.num_pending or c.num_ack_pending
            ]
            if seq != last_seq or behind:
                last_seq, settled_since = seq, time.monotonic()
            elif time.monotonic() - settled_since >= quiet:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the consumers never drained: {', '.join(behind)}")
            await asyncio.sleep(0.1)
    finally:
        await nc.close()


class Cancellations:
    """Watches ``<namespace>.order.cancelled`` and notes when each order's arrives."""

    def __init__(self, nats_url: str, namespace: str) -> None:
        self.url, self.subject = nats_url, f"{namespace}.order.cancelled"
        self.seen: dict[str, datetime] = {}
        self.last_arrived = time.monotonic()

    async def __aenter__(self) -> Cancellations:
        self.nc = await nats.connect(self.url)

        async def on_message(msg: Msg) -> None:
            self.seen[json.loads(msg.data)["data"]["id"]] = datetime.now(UTC)
            self.last_arrived = time.monotonic()

        await self.nc.subscribe(self.subject, cb=on_message)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.nc.close()

    async def quiet_after(self, moment: datetime, *, quiet: float, timeout: float) -> None:
        """Until ``moment`` is past and no cancellation came for ``quiet`` seconds, or
        ``timeout``: with ``moment`` the last expiry of the orders placed so far, those orders'
        cancellations are all out, and no longer share the cores with what is measured next."""
        deadline = time.monotonic() + timeout
        await asyncio.sleep(max((moment - datetime.now(UTC)).total_seconds(), 0))
        while time.monotonic() - self.last_arrived < quiet and time.monotonic() < deadline:  # noqa: ASYNC110 - the callback moves last_arrived
            await asyncio.sleep(0.1)

    async def lateness(
        self, due: dict[str, datetime], *, grace: timedelta, timeout: float
    ) -> Measured:
        """Once every order of ``due`` (id -> expiresAt) is cancelled, or ``timeout`` passed:
        how late each cancellation came (ms)."""
        deadline = time.monotonic() + timeout
        while set(due) - set(self.seen) and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a dict the callback fills
            await asyncio.sleep(0.1)
        row = Measured("nats subscriber", len(due), timeout)
        for order_id, expires_at in due.items():
            if order_id in self.seen:
                late = self.seen[order_id] - (expires_at + grace)
                row.latencies_ms.append(late.total_seconds() * 1000)
            else:
                row.statuses[0] += 1  # never cancelled within the timeout
        return row.summarise()
