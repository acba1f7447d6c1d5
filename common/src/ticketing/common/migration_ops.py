"""The column and index shapes every service's Alembic revisions repeat, written once.

A revision is history: what it creates must never change once it has been applied somewhere.
So nothing here may change what it builds; a new shape is a new helper. Revisions import these
instead of spelling out ``sa.Column("id", sa.Uuid, primary_key=True)`` for every table, so the
conventions (UUID keys, money as ``NUMERIC(10, 2)``, timestamps with a time zone) read the same
in every database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

TIMESTAMP = sa.DateTime(timezone=True)
MONEY = sa.Numeric(10, 2)


def uuid_key(name: str = "id", *constraints: Any) -> sa.Column[Any]:
    """The table's primary key, a UUID (``constraints``: e.g. a ``sa.ForeignKey``)."""
    return sa.Column(name, sa.Uuid, *constraints, primary_key=True)


def required(name: str, type_: Any, *constraints: Any, **options: Any) -> sa.Column[Any]:
    """A ``NOT NULL`` column."""
    return sa.Column(name, type_, *constraints, nullable=False, **options)


def stamped_now(name: str = "created_at") -> sa.Column[Any]:
    """A ``NOT NULL`` timestamp the database fills with the time of the insert."""
    return sa.Column(name, TIMESTAMP, nullable=False, server_default=sa.func.now())


def create_partial_index(
    name: str, table: str, columns: Sequence[str], where: str, *, unique: bool = False
) -> None:
    """An index over the rows ``where`` holds only: the rows a hot query reads."""
    op.create_index(name, table, list(columns), unique=unique, postgresql_where=sa.text(where))
