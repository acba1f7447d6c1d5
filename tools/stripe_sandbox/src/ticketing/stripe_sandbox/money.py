"""Amounts in the smallest currency unit, and their minimums, as Stripe counts them."""

from __future__ import annotations

import re

ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)
# Stripe's minimum charge amounts, in the smallest unit; other currencies use 50.
MINIMUM_AMOUNTS = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "aud": 50,
    "cad": 50,
    "chf": 50,
    "nzd": 50,
    "sgd": 50,
    "dkk": 250,
    "nok": 300,
    "sek": 300,
    "pln": 200,
    "hkd": 400,
    "mxn": 1000,
    "jpy": 50,
}
DEFAULT_MINIMUM_AMOUNT = 50
MAXIMUM_AMOUNT = 99_999_999
CURRENCY_CODE = re.compile(r"^[a-z]{3}$")


def format_amount(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL_CURRENCIES:
        return f"{amount:,} {currency}"
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(amount), 100)
    return f"{sign}{units:,}.{cents:02d} {currency}"
