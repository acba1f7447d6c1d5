"""The read model's locks: which writes wait for which, and why (transaction-scoped advisory
locks, released at commit or rollback).

- **One key per listing**, ``(LISTING_LOCK, hashtext(ticket id))``, taken exclusively by every
  handler that derives that listing's status. The status reads rows of several aggregates
  (the listing, the ticket's orders, their payments), so two replicas applying events of one
  ticket at once could each miss the other's uncommitted row; holding the listing's key while
  deriving makes the later one see the earlier one's commit. Events of different tickets take
  different keys and apply at once (the consumer runs messages of different aggregates
  concurrently; one global lock made them queue).
- **One key per order**, ``(ORDER_LOCK, hashtext(order id))``, taken by the order's events and
  its payment. A ``payment.created`` that arrives before its order has no ticket to lock (the
  ``orders`` row names it): it records the payment under the order's key, and ``order.created``,
  taking the same key, sees it when it derives the listing.
- **The read model as a whole**, ``READ_MODEL_LOCK`` (one bigint key): every handler holds it
  *shared*, so handlers never wait for each other on it; the rebuild holds it *exclusively*
  while it replaces every table, so live handlers wait for it, then run on the rebuilt rows.
  Old replicas took this key exclusively in every handler, so a rolling deploy mixing them
  with new ones still serialises each old handler with everything.

No deadlock: every transaction takes the shared lock first, then order keys, then listing
keys, never an order key after a listing key (a payment: its order, then the order's ticket),
and each handler derives one listing. Events that touch many listings at once do not exist:
a ban or a sign-up changes no listing row (the listing page filters banned sellers when it
reads), so those handlers hold only the shared lock, to stay out of a rebuild's way.
Two ids whose hashes collide share a key: they wait for each other, which is only slower.

The rebuild takes no listing or order keys while it holds the exclusive lock: nobody else can
write then, and one key per replayed ticket would fill PostgreSQL's lock table
(``max_locks_per_transaction``) long before a large read model was replayed.
"""

from __future__ import annotations

import functools
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.common.uow import AdvisoryLock

READ_MODEL_LOCK = 7_240_201  # any constants; the bigint key and the (kind, key) pairs of
LISTING_LOCK = 7_240_203  # the others never overlap (PostgreSQL keeps the two key spaces apart)
ORDER_LOCK = 7_240_204
_EXCLUSIVE = "ticketing.query.read_model_exclusive"  # session.info: the transaction holding it


def listing_key(ticket_id: UUID) -> AdvisoryLock:
    return AdvisoryLock(LISTING_LOCK, str(ticket_id))


def order_key(order_id: UUID) -> AdvisoryLock:
    return AdvisoryLock(ORDER_LOCK, str(order_id))


async def lock_for_writing(session: AsyncSession, *keys: AdvisoryLock) -> None:
    """Wait for, then hold until the transaction ends, the read model's shared lock and each
    of ``keys`` exclusively (order keys before listing keys), in one round trip. PostgreSQL
    evaluates a select list left to right, so the shared lock is always taken first. Taking
    one again in the same transaction returns at once. No read rides along: under READ
    COMMITTED a statement sees the data as of its start, before the wait, so only the
    statements after this one see what the replica we waited for committed."""
    if _holds_exclusively(session):
        return
    ordered = sorted(keys, key=lambda lock: (lock.kind != ORDER_LOCK, lock.key))
    params = {
        name: value
        for n, lock in enumerate(ordered)
        for name, value in lock.params(f"_{n}").items()
    }
    await session.execute(_shared_lock_then_keys(len(ordered)), params)


@functools.cache
def _shared_lock_then_keys(count: int) -> sa.Select[Any]:
    """The statement taking the shared lock, then ``count`` keys, built once per count (as
    ``common.db.bound`` says, a statement built per call costs more than running it)."""
    keys = (AdvisoryLock.bound_acquire(f"_{n}") for n in range(count))
    return sa.select(sa.func.pg_advisory_xact_lock_shared(READ_MODEL_LOCK), *keys)


async def lock_exclusively(session: AsyncSession) -> None:
    """Wait until no handler holds the read model, then keep every handler out until the
    transaction ends (the rebuild); handlers run in this transaction need no keys then."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(READ_MODEL_LOCK)))
    session.info[_EXCLUSIVE] = session.sync_session.get_transaction()


def _holds_exclusively(session: AsyncSession) -> bool:
    held_by = session.info.get(_EXCLUSIVE)
    return held_by is not None and held_by is session.sync_session.get_transaction()
