"""Shapes shared by every HTTP API and event: camelCase JSON models, ids and money.

Money is a JSON number with at most two decimals, held as ``Decimal`` in Python and as
NUMERIC in PostgreSQL: never a float, so 19.99 stays 19.99 end to end.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Base of every JSON body: snake_case in Python, camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def _number_only(value: Any) -> Any:
    # JSON strings and booleans are not prices, even when they look like numbers.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    return Decimal(str(value)) if isinstance(value, float) else value


Price = Annotated[
    Decimal,
    BeforeValidator(_number_only),
    Field(gt=0, max_digits=10, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]
"""A positive amount of money with at most 2 decimals, a JSON number on the wire."""


class TicketBody(ApiModel):
    """A ticket as DESIGN §3 shows it: tickets serves it, query extends it with a status."""

    id: UUID
    title: str
    price: Price
    user_id: UUID
    version: int
    order_id: UUID | None


def to_cents(amount: Decimal) -> int:
    """Stripe and friends count in the smallest currency unit: 19.99 -> 1999."""
    return int((amount * 100).to_integral_value())


def utcnow() -> datetime:
    return datetime.now(UTC)
