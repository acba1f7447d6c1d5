"""``Idempotency-Key`` for POSTs that create things (orders, payments), DESIGN §3.

The key is *claimed* before any side effect, in the request's own transaction (one
connection, issue 14): one statement takes a transaction lock on the key
(``pg_try_advisory_xact_lock``), inserts a row with no answer yet, and takes the lock the
action needs first (``lock``: orders' "this buyer is ordering"). A twin request arriving
while the first still runs fails to take the key's lock and gets 409 at once, doing nothing.
The final answer is staged on the unit of work and written in the *same* statement as the
work it describes (either both exist or neither does), as an UPDATE of the claimed row, so
nothing the key does can conflict with, and so roll back, the work it records. A retry with
the same key and body gets the original status and body; the same key with another body is a
400.

Only final outcomes are stored: a success, or a client error that retrying cannot change
(e.g. "Ticket is already reserved"), written after the rollback in a transaction of its own.
A transient answer (409, 429, any 5xx or crash) rolls the claim back with everything else (an
action that committed on its way, as payments does before calling Stripe, committed the claim
too: it is deleted), so the retry runs for real. A claim committed by a process that died
expires after ``CLAIM_LEASE`` and may then be taken over.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import Depends, Header
from fastapi.responses import JSONResponse
from sqlalchemy.dialects.postgresql import insert

from ticketing.common.auth import RequiredUser
from ticketing.common.contracts import ApiModel, utcnow
from ticketing.common.db import idempotency_keys
from ticketing.common.errors import ConflictError, CustomError, FieldError
from ticketing.common.service import UnitOfWorkDep
from ticketing.common.uow import AdvisoryLock, UnitOfWork

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]

CLAIM_LEASE = timedelta(minutes=2)
TRANSIENT_STATUSES = frozenset({409, 429})
IN_PROGRESS = "A request with this Idempotency-Key is still in progress; retry shortly"
KEY_REUSED = "This Idempotency-Key was already used with a different request"
KEY_LOCK_KIND = 7_240_302  # (this, hashtext(user:key)): "a request holds this key"


@dataclass(frozen=True)
class Reply:
    """An answer whose status differs from the route's default (e.g. 202 instead of 201)."""

    status_code: int
    body: ApiModel


def is_final(status_code: int) -> bool:
    """Whether an answer may be stored as the key's answer for good."""
    return status_code < 500 and status_code not in TRANSIENT_STATUSES


def _fingerprint(scope: str, request: ApiModel) -> str:
    canonical = json.dumps([scope, request.to_json()], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class _Key:
    user_id: UUID
    key: str
    scope: str
    fingerprint: str

    def where(self) -> sa.ColumnElement[bool]:
        return sa.and_(
            idempotency_keys.c.user_id == self.user_id, idempotency_keys.c.key == self.key
        )

    @property
    def lock(self) -> AdvisoryLock:
        return AdvisoryLock(KEY_LOCK_KIND, f"{self.user_id}:{self.key}")

    def row(self, **answer: Any) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "key": self.key,
            "scope": self.scope,
            "request_hash": self.fingerprint,
            **answer,
        }


async def _claim(uow: UnitOfWork, key: _Key, lock: AdvisoryLock | None) -> JSONResponse | None:
    """Claim the key (and take ``lock``) in one statement; or the stored answer to replay;
    ConflictError while another request holds the key."""
    held = sa.select(key.lock.try_acquire().label("held")).cte("key_held")
    claim = (
        insert(idempotency_keys)
        .from_select(
            ["user_id", "key", "scope", "request_hash"],
            sa.select(*[sa.literal(v) for v in key.row().values()]).where(held.c.held),
        )
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.key)
        .cte("claimed")
    )
    taken = sa.case((held.c.held, lock.acquire()), else_=None) if lock else sa.null()
    claimed = sa.select(sa.func.count()).select_from(claim).scalar_subquery().label("claimed")
    outcome = (await uow.session.execute(sa.select(held.c.held, claimed, taken))).one()
    if not outcome.held:
        await uow.rollback()
        raise ConflictError(IN_PROGRESS)
    if lock is not None:
        uow.held(lock)
    if outcome.claimed:
        return None
    # The row is another request's, committed: its answer, or its claim (a payment in flight).
    found = await uow.session.execute(sa.select(idempotency_keys).where(key.where()))
    stored = found.one_or_none()
    if stored is None:  # released since (a transient failure): retrying will claim it
        await uow.rollback()
        raise ConflictError(IN_PROGRESS)
    if stored.request_hash != key.fingerprint:
        await uow.rollback()
        raise FieldError("Idempotency-Key", KEY_REUSED)
    if stored.status_code is not None:
        await uow.rollback()
        return _replay(stored)
    if not await _take_over_abandoned(uow, key, stored.created_at):
        await uow.rollback()
        raise ConflictError(IN_PROGRESS)
    return None


async def _take_over_abandoned(uow: UnitOfWork, key: _Key, claimed_at: Any) -> bool:
    """A claim older than the lease belongs to a process that died: take it (one winner)."""
    if claimed_at > utcnow() - CLAIM_LEASE:
        return False
    result = await uow.session.execute(
        sa.update(idempotency_keys)
        .where(
            key.where(),
            idempotency_keys.c.status_code.is_(None),
            idempotency_keys.c.created_at == claimed_at,
        )
        .values(created_at=sa.func.now())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _replay(row: sa.Row[Any]) -> JSONResponse:
    response = JSONResponse(status_code=row.status_code, content=row.body)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _answer(key: _Key, status_code: int, body: Any) -> sa.Update:
    return sa.update(idempotency_keys).where(key.where()).values(status_code=status_code, body=body)


async def _settle_failure(uow: UnitOfWork, key: _Key, error: BaseException) -> None:
    """After a failed action: store a final client error, or release the claim. The claim
    rolled back with the work, unless the action committed it on its way."""
    await uow.rollback()
    if isinstance(error, CustomError) and is_final(error.status_code):
        body = {"errors": error.serialize_errors()}
        stored = insert(idempotency_keys).values(key.row(status_code=error.status_code, body=body))
        await uow.session.execute(
            stored.on_conflict_do_update(
                index_elements=[idempotency_keys.c.user_id, idempotency_keys.c.key],
                set_={"status_code": error.status_code, "body": body},
                where=idempotency_keys.c.status_code.is_(None),
            )
        )
    else:
        await uow.session.execute(
            sa.delete(idempotency_keys).where(key.where(), idempotency_keys.c.status_code.is_(None))
        )
    await uow.session.commit()


async def run_idempotently(
    uow: UnitOfWork,
    *,
    key: str | None,
    user_id: UUID,
    scope: str,
    request: ApiModel,
    status_code: int,
    action: Callable[[], Awaitable[ApiModel | Reply]],
    lock: AdvisoryLock | None = None,
) -> JSONResponse:
    """Run ``action`` (which stages its final work on ``uow``) and commit that work together
    with the key's answer. ``status_code`` is the answer's status unless ``action`` returns a
    ``Reply``. ``lock``, the lock the action takes first, is taken with the key's claim."""
    claim = None if key is None else _Key(user_id, key, scope, _fingerprint(scope, request))
    if claim is not None and (stored := await _claim(uow, claim, lock)) is not None:
        return stored
    try:
        reply = await action()
        if isinstance(reply, ApiModel):
            reply = Reply(status_code, reply)
        body = reply.body.to_json()
        if claim is not None:
            uow.stage(_answer(claim, reply.status_code, body))
        await uow.commit()
    except Exception as error:
        if claim is not None:
            await _settle_failure(uow, claim, error)
        raise
    return JSONResponse(status_code=reply.status_code, content=body)


@dataclass(frozen=True)
class IdempotentCall:
    """What a write route needs to answer a retry as it answered the first time: its unit of
    work, the signed-in caller and the ``Idempotency-Key`` they sent (if any)."""

    uow: UnitOfWork
    user_id: UUID
    key: str | None

    async def run(
        self,
        scope: str,
        request: ApiModel,
        *,
        status_code: int,
        action: Callable[[], Awaitable[ApiModel | Reply]],
        lock: AdvisoryLock | None = None,
    ) -> JSONResponse:
        return await run_idempotently(
            self.uow,
            key=self.key,
            user_id=self.user_id,
            scope=scope,
            request=request,
            status_code=status_code,
            action=action,
            lock=lock,
        )


async def idempotent_call(
    uow: UnitOfWorkDep, user: RequiredUser, idempotency_key: IdempotencyKey = None
) -> IdempotentCall:
    return IdempotentCall(uow, user.id, idempotency_key)


Idempotent = Annotated[IdempotentCall, Depends(idempotent_call)]
