"""Amounts in the smallest currency unit, and their limits, as Stripe counts them."""

from __future__ import annotations

import re

from ticketing.stripe_sandbox.errors import invalid_request

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf"}
)
# Stripe's minimum charge amounts, in the smallest unit; other currencies use 50.
MINIMUM_AMOUNTS = {"gbp": 30, "dkk": 250, "nok": 300, "sek": 300, "pln": 200, "hkd": 400}
MINIMUM_AMOUNTS |= {"mxn": 1000}
DEFAULT_MINIMUM_AMOUNT = 50
MAXIMUM_AMOUNT = 99_999_999
CURRENCY_CODE = re.compile(r"^[a-z]{3}$")


def validate_amount(amount: int, currency: str) -> int:
    """``amount`` if Stripe would charge it in ``currency``; raises its error otherwise."""
    if not CURRENCY_CODE.match(currency):
        raise invalid_request(f"Invalid currency: {currency}.", param="currency")
    minimum = MINIMUM_AMOUNTS.get(currency, DEFAULT_MINIMUM_AMOUNT)
    if amount < minimum:
        raise invalid_request(
            f"Amount must be at least {format_amount(minimum, currency)}",
            param="amount",
            code="amount_too_small",
        )
    if amount > MAXIMUM_AMOUNT:
        raise invalid_request(
            f"Amount must be no more than {format_amount(MAXIMUM_AMOUNT, currency)}",
            param="amount",
            code="amount_too_large",
        )
    return amount


def format_amount(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL_CURRENCIES:
        return f"{amount:,} {currency}"
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(amount), 100)
    return f"{sign}{units:,}.{cents:02d} {currency}"
