"""Reading posted forms and showing the API's errors next to the fields they are about."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from starlette.datastructures import FormData

from ticketing.common.errors import ErrorItem

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")


@dataclass(frozen=True)
class FormErrors:
    """An API's ``{"errors": [...]}`` split into per-field messages and the form-level rest."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, errors: list[ErrorItem], form_fields: tuple[str, ...]) -> FormErrors:
        by_field: dict[str, list[str]] = {}
        general: list[str] = []
        for error in errors:
            name = error.get("field")
            if name in form_fields:
                by_field.setdefault(name, []).append(error["message"])
            else:
                general.append(error["message"])
        return cls(fields=by_field, general=general)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def safe_next(url: str | None, default: str = "/") -> str:
    """Only a path on this site: never ``//evil.example`` nor ``https://...``."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    return url


def sign_in_url(next_url: str) -> str:
    return f"/auth/signin?next={quote(safe_next(next_url), safe='/')}"


def price_for_api(raw: str) -> int | float | str:
    """A JSON number when the input is one; else the text itself, for the API to reject
    with its own message ("Price must be a number") next to the field."""
    try:
        amount = Decimal(raw.strip())
    except InvalidOperation:
        return raw
    if not amount.is_finite():
        return raw
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def idempotency_key(form: FormData) -> str | None:
    key = text(form, "idempotency_key")
    return key if _IDEMPOTENCY_KEY.match(key) else None
