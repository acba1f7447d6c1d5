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
    from pydantic import BaseModel
    from sqlalchemy.ext.asyncio import AsyncConnection
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
class _PageSql:
    """One of a listing's statements, compiled once for asyncpg: its SQL and, in order, the
    names of its parameters with the values fixed when it was built (a status filter)."""

    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]

    def arguments(self, page: dict[str, Any]) -> list[Any]:
        values = {**self.fixed, **page}
        return [values[name] for name in self.names]


@dataclass(frozen=True)
class Page:
    """A listing's page: each row's body as JSON text (PostgreSQL wrote it), and where the
    next page starts (None on the last)."""

    bodies: list[str]
    more: Position | None

    def json_array(self) -> str:
        return "[" + ",".join(self.bodies) + "]"


@dataclass(frozen=True)
class NewestFirst:
    """A listing's two statements, the first page's and the following pages', built and
    compiled once with the page as parameters, each row's body written as JSON by
    PostgreSQL (``row_to_json``, keys and formats as the body's model serialises them).

    A page is one prepared statement on the driver's connection (asyncpg), no SQLAlchemy
    execution, no Python object per row but its text. The listings are the hottest reads:
    a statement built per request was built, coerced and given its cache key each time;
    then a row, a model and its serialisation per ticket and SQLAlchemy's execution around
    the one statement still cost a page of 50 about 2.7 ms of CPU; this way ~1 ms
    (``benchmarks/analysis.md`` fix 28)."""

    first: _PageSql
    following: _PageSql

    @classmethod
    def of(
        cls,
        query: sa.Select[Any],
        created_at: InstrumentedAttribute[datetime] | sa.ColumnElement[datetime],
        row_id: InstrumentedAttribute[UUID] | sa.ColumnElement[UUID],
        *,
        shows: type[BaseModel],
    ) -> NewestFirst:
        """``query`` selects a column named as each field of ``shows`` (the body's model),
        and ``created_at``."""
        import sqlalchemy as sa

        first = query.order_by(created_at.desc(), row_id.desc()).limit(
            sa.bindparam("page_rows", type_=sa.Integer)
        )
        after = sa.tuple_(created_at, row_id) < sa.tuple_(
            sa.bindparam("after_created_at", type_=created_at.type),
            sa.bindparam("after_id", type_=row_id.type),
        )
        body = _json_body(shows)
        return cls(_page_sql(first, body), _page_sql(first.where(after), body))

    async def read(
        self, connection: AsyncConnection, *, after: Position | None, limit: int
    ) -> Page:
        """One page (asking for one row more, which says whether more follow)."""
        page: dict[str, Any] = {"page_rows": limit + 1}
        statement = self.first
        if after is not None:
            statement = self.following
            page.update(after_created_at=after.created_at, after_id=after.id)
        rows = await _fetch(connection, statement.sql, statement.arguments(page))
        shown, more = split_page(rows, limit, lambda row: Position(row[1], row[2]))
        return Page([row[0] for row in shown], more)


# pydantic writes a UTC datetime as ``2026-01-02T03:04:05Z``, with ``.123456`` only when the
# microseconds are not zero: the same text, not merely the same instant.
_ISO_UTC = (
    "to_char({column} AT TIME ZONE 'UTC', CASE WHEN date_part('microseconds', {column})::int"
    ' % 1000000 = 0 THEN \'YYYY-MM-DD"T"HH24:MI:SS"Z"\''
    ' ELSE \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\' END)'
)


def _json_body(shows: type[BaseModel]) -> str:
    """The select list of one row's body: each field of the model under its JSON name."""
    columns = []
    for name, field in shows.model_fields.items():
        column = f"page.{name}"
        if field.annotation in (datetime, datetime | None):
            column = _ISO_UTC.format(column=column)
        columns.append(f'{column} AS "{field.alias or name}"')
    return ", ".join(columns)


def _page_sql(statement: sa.Select[Any], body: str) -> _PageSql:
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    compiled = statement.compile(dialect=dialect())  # type: ignore[no-untyped-call]
    sql = (
        "SELECT row_to_json(body)::text, page.created_at, page.id"
        f" FROM ({compiled}) AS page CROSS JOIN LATERAL (SELECT {body}) AS body"
        " ORDER BY page.created_at DESC, page.id DESC"
    )
    return _PageSql(sql, tuple(compiled.positiontup or ()), dict(compiled.params))


async def _fetch(connection: AsyncConnection, sql: str, arguments: list[Any]) -> list[Any]:
    """Rows of ``sql`` run by asyncpg itself on ``connection`` (its prepared-statement cache
    keeps the plan). A connection lost on the way is invalidated, as SQLAlchemy does with
    its own statements, so the pool never hands it out again; the error stays an outage
    (``failures.is_transient``: a 503)."""
    import asyncpg

    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None, "a checked-out connection has its driver's"
    try:
        return list(await driver.fetch(sql, *arguments))
    except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
        await connection.invalidate()
        raise


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
