"""What must be true of the whole platform once it has settled, however it was treated (the
fault suite, ``make test-faults``): read from every service's database, checked here.

``read_platform`` takes one snapshot of the rows that matter in each service's database (by
table name, as ``money_invariant`` does: a check must not import the services it checks).
``platform_inconsistencies`` is the rule, pure: given that snapshot, what the load was told
(``Ledger``: every 2xx it got) and the Stripe sandbox's charges, it returns every
inconsistency in words, empty when the platform is right:

- every 2xx is reflected where it belongs (a signed-up user, a listed ticket, a placed order,
  a payment and its completed order, a cancellation); a paid order may be cancelled (and
  refunded) only if its ``payment.created`` left payments after the payment grace
  (``paid_past_the_grace``, DESIGN §3);
- no ticket has two live orders, and tickets' reservation names the ticket's live order;
- the money invariant (``money_invariant``): a charge is kept for exactly the complete orders;
- every replica equals its source: orders' and notifications' copies of tickets, payments',
  notifications' and query's copies of orders, query's listings, payments and users.

``still_settling`` says what keeps the platform from having settled (an order not yet final,
an outbox row not yet published, a refund owed); only a settled platform must satisfy the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ticketing.testkit.money_invariant import FINAL_STATUSES, Charge, fetch_rows, money_violations

Row = tuple[str, ...]
Table = dict[str, Row]  # id -> the compared columns, as text
QUERIES: dict[str, dict[str, str]] = {
    "auth": {"users": "SELECT id, email FROM users"},
    "tickets": {"tickets": "SELECT id, title, price, user_id, version, order_id FROM tickets"},
    "orders": {
        "orders": "SELECT o.id, o.user_id, o.status, t.price, o.version, o.expires_at, "
        "o.ticket_id FROM orders o JOIN tickets t ON t.id = o.ticket_id",
        "tickets": "SELECT id, title, price, user_id, version FROM tickets",
    },
    "payments": {
        "orders": "SELECT id, user_id, status, price, version, expires_at FROM orders",
        "payments": "SELECT id, order_id, stripe_id FROM payments",
        "refunds_owed": "SELECT intent_id, order_id FROM refunds_owed "
        "WHERE refunded_at IS NULL AND parked_at IS NULL",
        # when each payment.created left payments (the relay published it)
        "payment_events": "SELECT convert_from(payload, 'UTF8')::json->'data'->>'orderId', "
        "published_at FROM outbox WHERE subject LIKE '%.payment.created'",
    },
    "query": {
        "listings": "SELECT id, title, price, user_id, version, order_id FROM listings",
        "orders": "SELECT id, user_id, status, ticket_price, version, expires_at, ticket_id "
        "FROM orders",
        "payments": "SELECT id, order_id, stripe_id FROM payments",
        "users": "SELECT id, email FROM users",
    },
    "notifications": {
        "users": "SELECT id, email FROM users",
        "tickets": "SELECT id, title, seller_id, version FROM tickets",
        "orders": "SELECT id, buyer_id, status, price, version, expires_at, ticket_id FROM orders",
        "payments": "SELECT id, order_id, stripe_id FROM payments",
    },
}
UNPUBLISHED = "SELECT seq, subject FROM outbox WHERE published_at IS NULL"
SHOWN = 5  # differences listed per comparison (the count says how many more)


@dataclass
class Ledger:
    """Every 2xx the load got, by what it created: the platform promised each of these."""

    users: dict[str, str] = field(default_factory=dict)  # id -> email
    tickets: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (title, price)
    orders: dict[str, str] = field(default_factory=dict)  # id -> ticket id
    payments: dict[str, str] = field(default_factory=dict)  # order id -> payment id
    cancelled: set[str] = field(default_factory=set)  # order ids DELETE answered 204 for


Snapshot = dict[str, dict[str, Table]]  # service -> table -> rows


def _text(value: Any) -> str:
    return "" if value is None else str(value)


async def read_platform(database_urls: Mapping[str, str]) -> Snapshot:
    """The compared rows of every service's database, plus each one's unpublished outbox
    rows (under ``"outbox"``)."""
    snapshot: Snapshot = {}
    for service, url in database_urls.items():
        tables: dict[str, Table] = {}
        for table, query in {**QUERIES.get(service, {}), "outbox": UNPUBLISHED}.items():
            rows = await fetch_rows(url, query)
            tables[table] = {_text(row[0]): tuple(_text(v) for v in row[1:]) for row in rows}
        snapshot[service] = tables
    return snapshot


def _table(snapshot: Snapshot, service: str, table: str) -> Table:
    return snapshot.get(service, {}).get(table, {})


def _project(table: Table, columns: Iterable[int]) -> Table:
    wanted = list(columns)
    return {key: tuple(row[i] for i in wanted) for key, row in table.items()}


def _shown(problems: list[str], what: str) -> list[str]:
    if len(problems) <= SHOWN:
        return problems
    return [*problems[:SHOWN], f"{what}: and {len(problems) - SHOWN} more"]


def replica_differences(name: str, source: Table, replica: Table) -> list[str]:
    """Rows missing from the replica, rows it has that the source has not, rows that differ."""
    problems = [f"{name}: {key} missing" for key in sorted(source.keys() - replica.keys())]
    problems += [f"{name}: {key} not in the source" for key in sorted(replica.keys() - source)]
    problems += [
        f"{name}: {key} is {replica[key]}, the source has {source[key]}"
        for key in sorted(source.keys() & replica.keys())
        if source[key] != replica[key]
    ]
    return _shown(problems, name)


def replica_problems(snapshot: Snapshot) -> list[str]:
    """Every replica against its source (the columns both sides keep, in the same order)."""
    tickets = _table(snapshot, "tickets", "tickets")
    orders = _table(snapshot, "orders", "orders")  # user, status, price, version, expiry, ticket
    payments = _table(snapshot, "payments", "payments")
    users = _table(snapshot, "auth", "users")
    pairs = [
        ("orders' tickets", _project(tickets, range(4)), _table(snapshot, "orders", "tickets")),
        ("query's listings", tickets, _table(snapshot, "query", "listings")),
        (
            "notifications' tickets",
            _project(tickets, (0, 2, 3)),
            _table(snapshot, "notifications", "tickets"),
        ),
        ("payments' orders", _project(orders, range(5)), _table(snapshot, "payments", "orders")),
        ("query's orders", orders, _table(snapshot, "query", "orders")),
        ("notifications' orders", orders, _table(snapshot, "notifications", "orders")),
        ("query's payments", payments, _table(snapshot, "query", "payments")),
        ("notifications' payments", payments, _table(snapshot, "notifications", "payments")),
        ("query's users", users, _table(snapshot, "query", "users")),
        ("notifications' users", users, _table(snapshot, "notifications", "users")),
    ]
    return [
        problem
        for name, source, copy in pairs
        for problem in replica_differences(name, source, copy)
    ]


def paid_past_the_grace(snapshot: Snapshot, ledger: Ledger, grace_seconds: float) -> list[str]:
    """Orders paid in time (201) but cancelled because their ``payment.created`` left payments
    only after ``expiresAt`` + the payment grace (an outage longer than the grace): DESIGN §3
    refunds these ("past it, the charge is refunded automatically"); the money check still
    requires the refund."""
    orders = _table(snapshot, "orders", "orders")
    published = _table(snapshot, "payments", "payment_events")
    late = []
    for order_id in ledger.payments:
        status, expires = orders.get(order_id, ("", "", "", "", ""))[1:5:3]
        sent = published.get(order_id, ("",))[0]
        if status == "cancelled" and sent and expires:
            deadline = datetime.fromisoformat(expires) + timedelta(seconds=grace_seconds)
            if datetime.fromisoformat(sent) > deadline:
                late.append(order_id)
    return sorted(late)


def ledger_problems(snapshot: Snapshot, ledger: Ledger, grace_seconds: float = 30) -> list[str]:
    """Every 2xx the load got that the platform does not reflect."""
    users, tickets = _table(snapshot, "auth", "users"), _table(snapshot, "tickets", "tickets")
    orders = _table(snapshot, "orders", "orders")
    paid = {row[0]: key for key, row in _table(snapshot, "payments", "payments").items()}
    problems = [f"user {uid} ({email}) signed up but unknown to auth"
                for uid, email in ledger.users.items() if uid not in users]  # fmt: skip
    for ticket_id, (title, price) in ledger.tickets.items():
        row = tickets.get(ticket_id)
        if row is None or (row[0], row[1]) != (title, price):
            problems.append(f"ticket {ticket_id} listed as {(title, price)}, tickets has {row}")
    for order_id, ticket_id in ledger.orders.items():
        if order_id not in orders or orders[order_id][5] != ticket_id:
            problems.append(f"order {order_id} for ticket {ticket_id} placed, orders has none")
    late = set(paid_past_the_grace(snapshot, ledger, grace_seconds))
    for order_id, payment_id in ledger.payments.items():
        if paid.get(order_id) != payment_id:
            problems.append(f"payment {payment_id} of order {order_id} unknown to payments")
        status = orders.get(order_id, ("", "?"))[1]
        if status != "complete" and order_id not in late:
            problems.append(f"order {order_id} was paid in time but is {status}")
    for order_id in sorted(ledger.cancelled):
        status = orders.get(order_id, ("", "?"))[1]
        if status != "cancelled":
            problems.append(f"order {order_id} was cancelled (204) but is {status}")
    return _shown(problems, "the load's 2xx")


def reservation_problems(snapshot: Snapshot) -> list[str]:
    """No ticket with two live orders; tickets' reservation = the ticket's live order."""
    live: dict[str, list[str]] = {}
    for order_id, row in _table(snapshot, "orders", "orders").items():
        if row[1] != "cancelled":
            live.setdefault(row[5], []).append(order_id)
    problems = [f"ticket {tid} has {len(ids)} live orders: {sorted(ids)}"
                for tid, ids in sorted(live.items()) if len(ids) > 1]  # fmt: skip
    for ticket_id, row in sorted(_table(snapshot, "tickets", "tickets").items()):
        holder, expected = row[4], ",".join(sorted(live.get(ticket_id, [])))
        if holder != expected:
            problems.append(f"ticket {ticket_id} is held by {holder or 'nobody'}, "
                            f"its live order is {expected or 'none'}")  # fmt: skip
    return _shown(problems, "reservations")


def platform_inconsistencies(
    snapshot: Snapshot, ledger: Ledger, charges: Iterable[Charge], grace_seconds: float = 30
) -> list[str]:
    """Everything wrong with a settled platform, in words; empty when it is right."""
    statuses = {key: row[1] for key, row in _table(snapshot, "orders", "orders").items()}
    money = [str(v) for v in money_violations(statuses, charges, every_charge_is_ours=True)]
    return [
        *ledger_problems(snapshot, ledger, grace_seconds),
        *reservation_problems(snapshot),
        *_shown(money, "money"),
        *replica_problems(snapshot),
    ]


def still_settling(snapshot: Snapshot) -> list[str]:
    """What is still moving: orders not final, outbox rows not published, refunds owed."""
    orders = _table(snapshot, "orders", "orders")
    moving = [f"order {key} is {row[1]}" for key, row in orders.items()
              if row[1] not in FINAL_STATUSES]  # fmt: skip
    moving += [f"{service} has {len(tables['outbox'])} event(s) unpublished"
               for service, tables in snapshot.items() if tables.get("outbox")]  # fmt: skip
    moving += [f"refund of {key} owed" for key in _table(snapshot, "payments", "refunds_owed")]
    return _shown(moving, "settling")


def unexpected_dead_letters(letters: Iterable[str], injected: Iterable[str]) -> list[str]:
    """Dead letters (their payloads) that are not one of the injected bad messages."""
    allowed = set(injected)
    return [letter[:200] for letter in letters if letter not in allowed]
