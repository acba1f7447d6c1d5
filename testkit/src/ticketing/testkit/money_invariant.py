"""The money invariant (DESIGN §3): for every order, the charges Stripe keeps = 1 if the order is
complete, else 0. A cancelled order's charges are all refunded in full; an order that is not
complete keeps nothing; a complete order keeps exactly one charge.

``money_violations`` is the rule, pure: it takes what orders says about its orders and what
Stripe says about its charges, and returns every order where they disagree (empty when the
platform is right), so a test asserts ``== []`` and a report prints them. The readers below get
those two inputs from where they live (orders' database, the Stripe sandbox's
``/_sandbox/charges``), plus payments' refunds still owed, which tells a test when the platform
has finished settling. They read tables by name, not through the services' models: a test
(or a fault suite run against a deployment) must not import a service to check it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

COMPLETE = "complete"
FINAL_STATUSES = frozenset({COMPLETE, "cancelled"})
Charge = Mapping[str, Any]  # one entry of the sandbox's /_sandbox/charges (Stripe's fields)


@dataclass(frozen=True)
class Violation:
    """An order whose money and status disagree. ``status`` is None for a charge naming an
    order that orders does not know (only reported when every charge is the platform's)."""

    order_id: str
    status: str | None
    kept_charges: tuple[str, ...]  # ids of the charges Stripe keeps for the order

    @property
    def expected(self) -> int:
        return 1 if self.status == COMPLETE else 0

    def __str__(self) -> str:
        kept = ", ".join(self.kept_charges) or "none"
        return (
            f"order {self.order_id} ({self.status or 'unknown to orders'}): "
            f"{len(self.kept_charges)} charge(s) kept ({kept}), expected {self.expected}"
        )


def is_kept(charge: Charge) -> bool:
    """A charge that moved money and was not refunded in full (a partial refund keeps money)."""
    return int(charge["amount_refunded"]) < int(charge["amount"])


def charge_order_id(charge: Charge) -> str | None:
    metadata = charge.get("metadata") or {}
    order_id = metadata.get("orderId")
    return str(order_id) if order_id else None


def money_violations(
    order_statuses: Mapping[str, str],
    charges: Iterable[Charge],
    *,
    every_charge_is_ours: bool = False,
) -> list[Violation]:
    """Every order whose kept charges are not 1 if complete, else 0 (in order id order).

    ``order_statuses`` maps each order id to its status in orders. Charges of orders outside
    it are ignored, unless ``every_charge_is_ours`` (the Stripe account serves only this
    platform): then such a charge, kept, is a violation too (money taken for no known order)."""
    kept: dict[str, list[str]] = {}
    for charge in charges:
        if is_kept(charge):
            kept.setdefault(charge_order_id(charge) or "", []).append(str(charge["id"]))
    violations = [
        Violation(order_id, status, tuple(kept.get(order_id, ())))
        for order_id, status in order_statuses.items()
        if len(kept.get(order_id, ())) != (1 if status == COMPLETE else 0)
    ]
    if every_charge_is_ours:
        violations += [
            Violation(order_id, None, tuple(ids))
            for order_id, ids in kept.items()
            if order_id not in order_statuses
        ]
    return sorted(violations, key=lambda violation: violation.order_id)


async def sandbox_charges(sandbox_url: str) -> list[Charge]:
    """Every charge that moved money at the Stripe sandbox (refunded or not)."""
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(f"{sandbox_url.rstrip('/')}/_sandbox/charges")
    response.raise_for_status()
    charges: list[Charge] = response.json()["data"]
    return charges


async def fetch_rows(database_url: str, query: str) -> list[tuple[Any, ...]]:
    """One query on a service's database (SQLAlchemy asyncpg URL), no pool left behind."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(sa.text(query))]
    finally:
        await engine.dispose()


async def order_statuses(orders_database_url: str) -> dict[str, str]:
    """Every order's status, as the orders service has it."""
    rows = await fetch_rows(orders_database_url, "SELECT id, status FROM orders")
    return {str(row[0]): str(row[1]) for row in rows}


async def replicated_order_statuses(payments_database_url: str) -> dict[str, str]:
    """Every order's status in payments' replica (it follows orders' events)."""
    rows = await fetch_rows(payments_database_url, "SELECT id, status FROM orders")
    return {str(row[0]): str(row[1]) for row in rows}


async def refunds_owed(payments_database_url: str) -> list[str]:
    """The PaymentIntents payments still owes a refund for and has not parked: while any is
    left, a kept charge of a cancelled order may be on its way back."""
    rows = await fetch_rows(
        payments_database_url,
        "SELECT intent_id FROM refunds_owed WHERE refunded_at IS NULL AND parked_at IS NULL",
    )
    return [str(row[0]) for row in rows]


async def still_settling(orders_database_url: str, payments_database_url: str) -> list[str]:
    """What keeps the platform from being settled, in words (empty once it is): an order not
    yet complete or cancelled, payments' replica behind orders, a refund still owed. Only a
    settled platform must satisfy the invariant; before that, money may be on its way."""
    statuses = await order_statuses(orders_database_url)
    replicated = await replicated_order_statuses(payments_database_url)
    moving = [
        f"order {order_id} is {status}"
        for order_id, status in sorted(statuses.items())
        if status not in FINAL_STATUSES
    ]
    moving += [
        f"order {order_id} is {status} in orders, {replicated.get(order_id)} in payments"
        for order_id, status in sorted(statuses.items())
        if status in FINAL_STATUSES and replicated.get(order_id) != status
    ]
    moving += [
        f"refund of {intent_id} owed" for intent_id in await refunds_owed(payments_database_url)
    ]
    return moving


async def check_money(
    orders_database_url: str, sandbox_url: str, *, every_charge_is_ours: bool = False
) -> list[Violation]:
    """The invariant over everything orders and the sandbox hold right now."""
    statuses = await order_statuses(orders_database_url)
    charges = await sandbox_charges(sandbox_url)
    return money_violations(statuses, charges, every_charge_is_ours=every_charge_is_ours)
