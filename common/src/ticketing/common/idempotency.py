"""``Idempotency-Key`` for POSTs that create things (orders, payments).

The stored response is written in the *same* transaction as the work it describes, so either
both exist or neither does. A retry with the same key and body gets the original status and
body and changes nothing; the same key with a different body is a 400. Client errors (4xx) are
remembered too, like Stripe does; server errors are not, so a retry can succeed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from ticketing.common.contracts import ApiModel
from ticketing.common.db import idempotency_keys
from ticketing.common.errors import CustomError, FieldError
from ticketing.common.uow import UnitOfWork

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def _fingerprint(scope: str, request: ApiModel) -> str:
    canonical = json.dumps([scope, request.to_json()], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _stored(uow: UnitOfWork, user_id: UUID, key: str) -> sa.Row[Any] | None:
    return (
        await uow.session.execute(
            sa.select(idempotency_keys).where(
                idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key
            )
        )
    ).first()


def _replay(row: sa.Row[Any], fingerprint: str) -> JSONResponse:
    if row.request_hash != fingerprint:
        raise FieldError(
            "Idempotency-Key", "This Idempotency-Key was already used with a different request"
        )
    response = JSONResponse(status_code=row.status_code, content=row.body)
    response.headers["Idempotent-Replayed"] = "true"
    return response


async def run_idempotently(
    uow: UnitOfWork,
    *,
    key: str | None,
    user_id: UUID,
    scope: str,
    request: ApiModel,
    status_code: int,
    action: Callable[[], Awaitable[ApiModel]],
) -> JSONResponse:
    """Run ``action`` (which stages work on ``uow``) and commit it with its stored response."""
    if key is None:
        body = (await action()).to_json()
        await uow.commit()
        return JSONResponse(status_code=status_code, content=body)

    fingerprint = _fingerprint(scope, request)
    if (row := await _stored(uow, user_id, key)) is not None:
        return _replay(row, fingerprint)
    record = {"user_id": user_id, "key": key, "scope": scope, "request_hash": fingerprint}
    try:
        body = (await action()).to_json()
        await uow.session.execute(
            sa.insert(idempotency_keys).values(**record, status_code=status_code, body=body)
        )
        await uow.commit()
        return JSONResponse(status_code=status_code, content=body)
    except (CustomError, IntegrityError) as exc:
        await uow.rollback()
        # A concurrent twin with the same key may have won: answer what it answered.
        if (row := await _stored(uow, user_id, key)) is not None:
            return _replay(row, fingerprint)
        if isinstance(exc, CustomError) and exc.status_code < 500:
            error_body = {"errors": exc.serialize_errors()}
            await uow.session.execute(
                sa.insert(idempotency_keys).values(
                    **record, status_code=exc.status_code, body=error_body
                )
            )
            await uow.commit()
        raise
