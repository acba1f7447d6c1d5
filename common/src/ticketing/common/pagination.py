"""Keyset pagination of the listings (DESIGN §3 ``GET /api/tickets?limit=&cursor=``).

A listing is read newest first, ordered by ``(created_at, id)`` descending, and a page starts
*after* the last row of the previous one: ``WHERE (created_at, id) < (:at, :id)``, which an
index on ``(created_at, id)`` answers by walking it backwards. Unlike an offset, the cost of a
page does not grow with its depth, and no ``count(*)`` is needed: a page asks for one row more
than it shows, and that row's presence is what says "there is a next page".

The cursor is opaque to clients: base64url of the last row's position plus a checksum, so a
truncated, edited or made-up cursor is a 400 naming ``cursor`` instead of a wrong page or a 500.
The checksum is not a secret: forging a valid cursor only picks a position in a public listing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import urlencode
from uuid import UUID

from fastapi import Query, Request

from ticketing.common.errors import FieldError

if TYPE_CHECKING:  # imported where a listing is built: the client only reads cursors
    import sqlalchemy as sa
    from sqlalchemy.orm import InstrumentedAttribute

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_LENGTH = 200
INVALID_CURSOR = "Invalid cursor"
_CHECK = b"ticketing-listing-cursor"
_CHECK_BYTES = 8

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_LENGTH,
        description='Opaque: the cursor of the previous page\'s `Link: <…>; rel="next"`',
    ),
]
NEXT_PAGE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Link": {
                "description": 'The next (older) page, `<…?limit=…&cursor=…>; rel="next"`; '
                "absent on the last page",
                "schema": {"type": "string"},
            }
        }
    }
}
"""For ``responses=`` of a paginated route: documents its ``Link`` header."""

RowT = TypeVar("RowT")


@dataclass(frozen=True, order=True)
class Position:
    """Where a page ends: the last row's ``created_at`` and ``id`` (ordered as the rows are)."""

    created_at: datetime
    id: UUID


def _checksum(payload: bytes) -> bytes:
    return hmac.new(_CHECK, payload, hashlib.sha256).digest()[:_CHECK_BYTES]


def encode_cursor(position: Position) -> str:
    payload = f"{position.created_at.isoformat()}|{position.id}".encode()
    return base64.urlsafe_b64encode(payload + _checksum(payload)).rstrip(b"=").decode()


def decode_cursor(raw: str) -> Position:
    """The position a cursor of ``encode_cursor`` names; ``FieldError`` for anything else."""
    try:
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        payload, check = data[:-_CHECK_BYTES], data[-_CHECK_BYTES:]
        if not raw.isascii() or not hmac.compare_digest(check, _checksum(payload)):
            raise ValueError("checksum")
        at, _, row_id = payload.decode().partition("|")
        position = Position(created_at=datetime.fromisoformat(at), id=UUID(row_id))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise FieldError("cursor", INVALID_CURSOR) from exc
    if position.created_at.tzinfo is None:
        raise FieldError("cursor", INVALID_CURSOR)
    return position


def cursor_position(raw: str | None) -> Position | None:
    """The ``cursor`` query parameter, decoded; None for the first page."""
    return None if raw is None else decode_cursor(raw)


@dataclass(frozen=True)
class NewestFirst:
    """A listing's two statements, the first page's and the following pages', built once
    with the page as parameters: a statement built per request is built, coerced and given
    its cache key again each time, which costs a hot listing more than the rows do."""

    first: sa.Select[Any]
    following: sa.Select[Any]

    @classmethod
    def of(
        cls,
        query: sa.Select[Any],
        created_at: InstrumentedAttribute[datetime] | sa.ColumnElement[datetime],
        row_id: InstrumentedAttribute[UUID] | sa.ColumnElement[UUID],
    ) -> NewestFirst:
        import sqlalchemy as sa

        first = query.order_by(created_at.desc(), row_id.desc()).limit(
            sa.bindparam("page_rows", type_=sa.Integer)
        )
        after = sa.tuple_(created_at, row_id) < sa.tuple_(
            sa.bindparam("after_created_at", type_=created_at.type),
            sa.bindparam("after_id", type_=row_id.type),
        )
        return cls(first, first.where(after))

    def page(self, *, after: Position | None, limit: int) -> tuple[sa.Select[Any], dict[str, Any]]:
        """The statement of one page (plus the one row that tells whether more follow), and
        its parameters."""
        if after is None:
            return self.first, {"page_rows": limit + 1}
        return self.following, {
            "page_rows": limit + 1,
            "after_created_at": after.created_at,
            "after_id": after.id,
        }


def split_page(
    rows: Sequence[RowT], limit: int, position_of: Callable[[RowT], Position]
) -> tuple[list[RowT], Position | None]:
    """The page's rows, and where the next page starts (None when this is the last)."""
    page = list(rows[:limit])
    return page, position_of(page[-1]) if len(rows) > limit else None


def next_link(request: Request, after: Position, limit: int) -> str:
    """The ``Link`` header to the next page: this request's path and parameters (a filter
    stays), with the new cursor. A relative reference, so it holds behind any proxy."""
    params = dict(request.query_params)
    params.update(limit=str(limit), cursor=encode_cursor(after))
    return f'<{request.url.path}?{urlencode(params)}>; rel="next"'
