"""``Idempotency-Key`` for POSTs that create things (orders, payments), DESIGN §3.

The key is *claimed* before any side effect: a row with no answer yet is inserted and committed
on its own, so a twin request arriving while the first still runs finds the claim and gets 409
without doing anything. The final answer is written in the *same* transaction as the work it
describes (either both exist or neither does), as an UPDATE of the claimed row, so nothing the
key does can conflict with, and so roll back, the work it records. A retry with the same key
and body gets the original status and body; the same key with another body is a 400.

Only final outcomes are stored: a success, or a client error that retrying cannot change
(e.g. "Ticket is already reserved"). A transient answer (409, 429, any 5xx or crash) releases
the claim, so the retry runs for real. A claim left behind by a crashed process expires after
``CLAIM_LEASE`` and may then be taken over.
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
from ticketing.common.uow import UnitOfWork

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]

CLAIM_LEASE = timedelta(minutes=2)
TRANSIENT_STATUSES = frozenset({409, 429})
IN_PROGRESS = "A request with this Idempotency-Key is still in progress; retry shortly"
KEY_REUSED = "This Idempotency-Key was already used with a different request"


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


async def _claim(uow: UnitOfWork, key: _Key) -> JSONResponse | None:
    """Claim the key (committed); or the stored answer to replay; ConflictError if in flight."""
    claimed = await uow.session.scalar(
        insert(idempotency_keys)
        .values(user_id=key.user_id, key=key.key, scope=key.scope, request_hash=key.fingerprint)
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.key)
    )
    if claimed is None:
        row = (await uow.session.execute(sa.select(idempotency_keys).where(key.where()))).one()
        if row.request_hash != key.fingerprint:
            await uow.rollback()
            raise FieldError("Idempotency-Key", KEY_REUSED)
        if row.status_code is not None:
            await uow.rollback()
            return _replay(row)
        if not await _take_over_abandoned(uow, key, row.created_at):
            await uow.rollback()
            raise ConflictError(IN_PROGRESS)
    await uow.session.commit()
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


async def _answer(uow: UnitOfWork, key: _Key, status_code: int, body: Any) -> None:
    await uow.session.execute(
        sa.update(idempotency_keys).where(key.where()).values(status_code=status_code, body=body)
    )


async def _settle_failure(uow: UnitOfWork, key: _Key, error: BaseException) -> None:
    """After a failed action: store a final client error, or release the claim."""
    await uow.rollback()
    if isinstance(error, CustomError) and is_final(error.status_code):
        await _answer(uow, key, error.status_code, {"errors": error.serialize_errors()})
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
) -> JSONResponse:
    """Run ``action`` (which stages its final work on ``uow``) and commit that work together
    with the key's answer. ``status_code`` is the answer's status unless ``action`` returns a
    ``Reply``."""
    claim = None if key is None else _Key(user_id, key, scope, _fingerprint(scope, request))
    if claim is not None and (stored := await _claim(uow, claim)) is not None:
        return stored
    try:
        reply = await action()
        if isinstance(reply, ApiModel):
            reply = Reply(status_code, reply)
        body = reply.body.to_json()
        if claim is not None:
            await _answer(uow, claim, reply.status_code, body)
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
    ) -> JSONResponse:
        return await run_idempotently(
            self.uow,
            key=self.key,
            user_id=self.user_id,
            scope=scope,
            request=request,
            status_code=status_code,
            action=action,
        )


async def idempotent_call(
    uow: UnitOfWorkDep, user: RequiredUser, idempotency_key: IdempotencyKey = None
) -> IdempotentCall:
    return IdempotentCall(uow, user.id, idempotency_key)


Idempotent = Annotated[IdempotentCall, Depends(idempotent_call)]
