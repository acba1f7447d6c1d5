"""A service's durable consumer, configured so that old and new replicas can run at once.

All replicas of a service share one durable consumer (DESIGN §4), but during a rolling deploy
they run different code that may subscribe to different event types. If every start wrote its
own config (last writer wins), an old replica starting after a new one would drop the new types
from the filter, and the consumer would skip their messages for good. So:

- **The filter only widens.** A replica reads the current config and writes back the union of
  its filter subjects and its own; limits become the larger of theirs and ours. Nothing is ever
  removed automatically: a subject no running version handles any more stays, and a replica
  that receives such a message leaves it for the others (``EventConsumer``), dead-lettering it
  only after nobody took it for a long time. Narrowing is a deliberate operator action
  (``nats consumer edit``) once no version needs the subject.
- **One reconciler at a time.** Read-union-write runs under a short cluster-wide lock (a key
  in the ``<NAMESPACE>_LOCKS`` key-value bucket, expiring on its own if its holder dies), so two
  replicas widening at once cannot write over each other's subjects.
- **What cannot change is checked, not rewritten.** A durable this code cannot use (not
  explicit-ack, or a push consumer) raises ``DurableConfigError`` with what to do about it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType
from nats.js.errors import (
    BadRequestError,
    BucketNotFoundError,
    KeyWrongLastSequenceError,
    NotFoundError,
    ServerError,
)
from nats.js.kv import KeyValue

from ticketing.common.bus import Bus

logger = logging.getLogger("ticketing.durable")

LOCK_TTL_SECONDS = 30  # a dead holder's lock expires after this
LOCK_WAIT_SECONDS = 2 * LOCK_TTL_SECONDS
LOCK_BUCKET_BYTES = 1024 * 1024  # reserved on every NATS node, like each stream's cap
LIMITS = ("max_deliver", "max_ack_pending", "ack_wait")


class DurableConfigError(RuntimeError):
    """The durable consumer exists in a form this code cannot consume from."""


@dataclass(frozen=True)
class DurableSpec:
    """What this replica needs from its service's durable consumer."""

    stream: str
    durable: str
    subjects: Sequence[str]
    max_deliver: int
    ack_wait_seconds: float
    max_ack_pending: int


async def ensure_durable(bus: Bus, spec: DurableSpec) -> ConsumerConfig:
    """Create the durable, or widen it to deliver ``spec.subjects`` too; its config after."""
    async with _reconcile_lock(bus, spec.durable):
        try:
            current: ConsumerConfig = (await bus.js.consumer_info(spec.stream, spec.durable)).config
        except NotFoundError:
            created = (await bus.js.add_consumer(spec.stream, config=_fresh(spec))).config
            logger.info("Created durable %s on %s: %s", spec.durable, spec.stream, spec.subjects)
            return created
        _check_usable(current, spec)
        widened = widen(current, spec)
        if _same(widened, current):
            return current
        try:
            updated = (await bus.js.add_consumer(spec.stream, config=widened)).config
        except (BadRequestError, ServerError) as exc:  # a refusal, not an outage
            raise DurableConfigError(
                f"JetStream refused to widen durable {spec.durable} on {spec.stream}"
                f" ({_describe(current, widened)}): {exc.description}"
            ) from exc
        logger.warning(
            "Widened durable %s on %s: %s", spec.durable, spec.stream, _describe(current, updated)
        )
        return updated


def widen(current: ConsumerConfig, spec: DurableSpec) -> ConsumerConfig:
    """``current`` delivering ``spec.subjects`` too, with limits no lower than ``spec``'s."""
    filters = filter_subjects(current)
    missing = [s for s in spec.subjects if filters and not any(_covers(f, s) for f in filters)]
    return current.evolve(
        # No filter at all already delivers every subject of the stream.
        filter_subject=None,
        filter_subjects=sorted({*filters, *missing}) if filters else None,
        max_deliver=_at_least(current.max_deliver, spec.max_deliver),
        max_ack_pending=_at_least(current.max_ack_pending, spec.max_ack_pending),
        ack_wait=max(current.ack_wait or 0, spec.ack_wait_seconds),
    )


def filter_subjects(config: ConsumerConfig) -> list[str]:
    """The subjects a consumer delivers (JetStream reports one as ``filter_subject``)."""
    if config.filter_subjects:
        return list(config.filter_subjects)
    return [config.filter_subject] if config.filter_subject else []


def _fresh(spec: DurableSpec) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=spec.durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        filter_subjects=sorted(spec.subjects),
        max_deliver=spec.max_deliver,
        ack_wait=spec.ack_wait_seconds,
        max_ack_pending=spec.max_ack_pending,
    )


def _check_usable(current: ConsumerConfig, spec: DurableSpec) -> None:
    problem = None
    if current.ack_policy != AckPolicy.EXPLICIT:
        problem = f"acks {current.ack_policy}, not explicitly"
    elif current.deliver_subject:
        problem = "a push consumer"
    if problem is not None:
        raise DurableConfigError(
            f"Durable {spec.durable} on {spec.stream} is {problem}, which cannot be changed in"
            f" place; this code needs an explicit-ack pull consumer. Remove it"
            f" (nats consumer rm {spec.stream} {spec.durable}) and it is recreated, delivering"
            " the stream again (the handlers skip what they have already applied)."
        )


def _at_least(current: int | None, wanted: int) -> int:
    if current == -1:  # unlimited is wider than any limit
        return current
    return max(current or 0, wanted)


def _covers(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, a final ``>`` one or more."""
    tokens, wanted = pattern.split("."), subject.split(".")
    for index, token in enumerate(tokens):
        if token == ">":
            return len(wanted) > index
        if index >= len(wanted) or token not in ("*", wanted[index]):
            return False
    return len(tokens) == len(wanted)


def _same(a: ConsumerConfig, b: ConsumerConfig) -> bool:
    return sorted(filter_subjects(a)) == sorted(filter_subjects(b)) and all(
        getattr(a, field) == getattr(b, field) for field in LIMITS
    )


def _describe(before: ConsumerConfig, after: ConsumerConfig) -> str:
    added = sorted(set(filter_subjects(after)) - set(filter_subjects(before)))
    changes = [f"subjects +{added}"] if added else []
    for field in LIMITS:
        old, new = getattr(before, field), getattr(after, field)
        if old != new:
            changes.append(f"{field} {old} -> {new}")
    return ", ".join(changes)


@asynccontextmanager
async def _reconcile_lock(bus: Bus, durable: str) -> AsyncIterator[None]:
    """Hold the cluster-wide lock on ``durable``'s config (waits for another holder)."""
    locks = await _lock_bucket(bus)
    owner = f"{socket.gethostname()}:{os.getpid()}".encode()
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            revision = await locks.create(durable, owner)
            break
        except KeyWrongLastSequenceError:
            if time.monotonic() >= deadline:
                held = f"lock on durable {durable} held for {LOCK_WAIT_SECONDS}s"
                raise TimeoutError(held) from None
            await asyncio.sleep(random.uniform(0.05, 0.2))
    try:
        yield
    finally:
        try:
            await locks.delete(durable, last=revision)
        except KeyWrongLastSequenceError:
            logger.warning("Lock on durable %s expired while held", durable)


async def _lock_bucket(bus: Bus) -> KeyValue:
    try:
        return await bus.js.key_value(bus.names.lock_bucket)
    except BucketNotFoundError:
        return await bus.js.create_key_value(
            KeyValueConfig(
                bucket=bus.names.lock_bucket,
                ttl=LOCK_TTL_SECONDS,
                max_bytes=LOCK_BUCKET_BYTES,
                storage=StorageType.FILE,
                replicas=bus.stream_replicas,
            )
        )
