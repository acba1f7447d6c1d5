"""Shapes shared by every HTTP API and event: camelCase JSON models, ids and money.

Money is a JSON number with at most two decimals, held as ``Decimal`` in Python and as
NUMERIC in PostgreSQL: never a float, so 19.99 stays 19.99 end to end. Text typed by people
is ``PlainText`` (or ``VisibleText`` for a title): no control characters, no direction
overrides (DESIGN §3 "Bad input").
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)
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
    # What the wire holds (a number; pydantic would say "number or string" of a Decimal).
    WithJsonSchema(
        {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 99999999.99,
            "description": "At most 2 decimals",
        }
    ),
]
"""A positive amount of money with at most 2 decimals, a JSON number on the wire."""


# C0 controls and DEL (NUL breaks PostgreSQL text, ESC paints terminals), and the bidirectional
# embeddings, overrides and isolates that make "txt.exe" display as "exe.txt".
_FORBIDDEN = re.compile("[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
# Letters that render as nothing: Hangul fillers and the blank Braille pattern.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Separators, controls, format characters (zero-width space, joiners), unassigned code points
# and lone combining marks: none of them makes a title visible on its own.
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cn", "Co", "Cs", "Mn", "Me"})


def _no_control_characters(value: str) -> str:
    if _FORBIDDEN.search(value):
        raise ValueError("must not contain control characters")
    return value


def is_visible(character: str) -> bool:
    return (
        character not in _BLANK_LETTERS
        and unicodedata.category(character) not in _INVISIBLE_CATEGORIES
    )


def _has_visible_character(value: str) -> str:
    if not any(is_visible(character) for character in value):
        raise ValueError("must contain a visible character")
    return value


# Documented in the JSON schema, so a contract tester generating valid input sends valid text.
_PLAIN_PATTERN = "^[^\\x00-\\x1f\\x7f\\u202a-\\u202e\\u2066-\\u2069]*$"

PlainText = Annotated[
    str,
    AfterValidator(_no_control_characters),
    Field(json_schema_extra={"pattern": _PLAIN_PATTERN}),
]
"""Text a person typed (an email, a name): refused, naming the field, when it holds control
characters (U+0000-U+001F, U+007F) or bidirectional overrides (U+202A-U+202E, U+2066-U+2069).
Add a length limit with ``Field(max_length=...)`` after it."""

VisibleText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1),
    AfterValidator(_no_control_characters),
    AfterValidator(_has_visible_character),
    Field(json_schema_extra={"pattern": _PLAIN_PATTERN}),
]
"""Trimmed ``PlainText`` that shows something (a title): empty, whitespace only or
zero-width characters only are refused."""


class TicketBody(ApiModel):
    """A ticket as DESIGN §3 shows it: tickets serves it, query extends it with a status."""

    id: UUID
    title: str
    price: Price
    user_id: UUID
    version: int
    order_id: UUID | None


OrderStatus = Literal["created", "cancelled", "awaiting:payment", "complete"]


class OrderBody(ApiModel):
    """An order as DESIGN §3 shows it, but for its ticket: orders and query each add their
    view of the ticket (query also the payment)."""

    id: UUID
    user_id: UUID
    status: OrderStatus
    expires_at: datetime
    version: int


def to_cents(amount: Decimal) -> int:
    """Stripe and friends count in the smallest currency unit: 19.99 -> 1999."""
    return int((amount * 100).to_integral_value())


def utcnow() -> datetime:
    return datetime.now(UTC)
