"""The fault suite's checker finds what it must: each rule of ``platform_invariants`` on a
small, hand-made platform snapshot that breaks exactly that rule (and a right one that breaks
none), so a green suite means the platform was right, not that the checker is blind."""

from __future__ import annotations

from typing import Any

from ticketing.testkit.platform_invariants import (
    Ledger,
    Snapshot,
    paid_past_the_grace,
    platform_inconsistencies,
    still_settling,
    unexpected_dead_letters,
)

USER, SELLER, TICKET, ORDER, PAYMENT = "u1", "s1", "t1", "o1", "p1"
EXPIRES = "2026-12-01 12:00:00+00:00"


def settled_sale() -> Snapshot:
    """One ticket sold: its order complete, paid once, every replica up to date."""
    ticket = ("Show", "20.00", SELLER, "1", ORDER)
    order = (USER, "complete", "20.00", "1", EXPIRES, TICKET)
    payment = (ORDER, "pi_1")
    users = {USER: ("buyer@example.com",), SELLER: ("seller@example.com",)}
    return {
        "auth": {"users": dict(users), "outbox": {}},
        "tickets": {"tickets": {TICKET: ticket}, "outbox": {}},
        "orders": {
            "orders": {ORDER: order},
            "tickets": {TICKET: ticket[:4]},
            "outbox": {},
        },
        "payments": {
            "orders": {ORDER: order[:5]},
            "payments": {PAYMENT: payment},
            "refunds_owed": {},
            "outbox": {},
        },
        "query": {
            "listings": {TICKET: ticket},
            "orders": {ORDER: order},
            "payments": {PAYMENT: payment},
            "users": dict(users),
            "outbox": {},
        },
        "notifications": {
            "users": dict(users),
            "tickets": {TICKET: ("Show", SELLER, "1")},
            "orders": {ORDER: order},
            "payments": {PAYMENT: payment},
            "outbox": {},
        },
    }


def charge(order_id: str, refunded: int = 0) -> dict[str, Any]:
    return {"id": f"ch_{order_id}", "amount": 2000, "amount_refunded": refunded,
            "metadata": {"orderId": order_id}}  # fmt: skip


def ledger() -> Ledger:
    return Ledger(
        users={USER: "buyer@example.com"},
        tickets={TICKET: ("Show", "20.00")},
        orders={ORDER: TICKET},
        payments={ORDER: PAYMENT},
    )


def test_a_settled_sale_is_consistent() -> None:
    assert platform_inconsistencies(settled_sale(), ledger(), [charge(ORDER)]) == []
    assert still_settling(settled_sale()) == []


def test_a_paid_order_left_incomplete_is_found_with_its_kept_charge() -> None:
    snapshot = settled_sale()
    snapshot["orders"]["orders"][ORDER] = (USER, "cancelled", "20.00", "2", EXPIRES, TICKET)

    found = platform_inconsistencies(snapshot, ledger(), [charge(ORDER)])

    assert f"order {ORDER} was paid in time but is cancelled" in found
    assert any("1 charge(s) kept" in problem for problem in found)
    assert any(problem.startswith("payments' orders: o1 is") for problem in found)


def test_a_ticket_with_two_live_orders_is_found() -> None:
    snapshot = settled_sale()
    snapshot["orders"]["orders"]["o2"] = ("u2", "created", "20.00", "0", EXPIRES, TICKET)

    found = platform_inconsistencies(snapshot, ledger(), [charge(ORDER)])

    assert f"ticket {TICKET} has 2 live orders: ['o1', 'o2']" in found
    assert "order o2 is created" in still_settling(snapshot)


def test_a_lost_sign_up_listing_and_cancellation_are_found() -> None:
    promised = ledger()
    promised.users["u9"] = "lost@example.com"
    promised.tickets["t9"] = ("Lost", "10.00")
    promised.cancelled.add(ORDER)

    found = platform_inconsistencies(settled_sale(), promised, [charge(ORDER)])

    assert "user u9 (lost@example.com) signed up but unknown to auth" in found
    assert "ticket t9 listed as ('Lost', '10.00'), tickets has None" in found
    assert f"order {ORDER} was cancelled (204) but is complete" in found


def test_a_replica_behind_its_source_is_found() -> None:
    snapshot = settled_sale()
    del snapshot["query"]["users"][SELLER]
    snapshot["orders"]["tickets"][TICKET] = ("Show", "25.00", SELLER, "2")

    found = platform_inconsistencies(snapshot, ledger(), [charge(ORDER)])

    assert f"query's users: {SELLER} missing" in found
    assert any(problem.startswith(f"orders' tickets: {TICKET} is") for problem in found)


def test_a_refund_owed_and_an_unpublished_event_mean_still_settling() -> None:
    snapshot = settled_sale()
    snapshot["payments"]["refunds_owed"]["pi_2"] = ("o2",)
    snapshot["tickets"]["outbox"]["7"] = ("ticketing.ticket.updated",)

    assert still_settling(snapshot) == ["tickets has 1 event(s) unpublished", "refund of pi_2 owed"]


def test_only_the_injected_messages_may_be_dead_letters() -> None:
    assert unexpected_dead_letters(["poison", "malformed"], ["poison", "malformed"]) == []
    assert unexpected_dead_letters(["poison", '{"type": "order.created"}'], ["poison"]) == [
        '{"type": "order.created"}'
    ]


def test_a_paid_order_refunded_because_its_payment_left_after_the_grace_is_no_inconsistency() -> (
    None
):
    snapshot = settled_sale()
    cancelled = (USER, "cancelled", "20.00", "2", EXPIRES, TICKET)
    for service in ("orders", "query", "notifications"):
        snapshot[service]["orders"][ORDER] = cancelled
    snapshot["payments"]["orders"][ORDER] = cancelled[:5]
    for service, table in (("tickets", "tickets"), ("query", "listings")):
        snapshot[service][table][TICKET] = ("Show", "20.00", SELLER, "1", "")  # released
    snapshot["payments"]["payment_events"] = {ORDER: ("2026-12-01 12:00:31+00:00",)}
    refunded = [charge(ORDER, refunded=2000)]

    assert paid_past_the_grace(snapshot, ledger(), grace_seconds=30) == [ORDER]
    assert platform_inconsistencies(snapshot, ledger(), refunded, grace_seconds=30) == []
    snapshot["payments"]["payment_events"] = {ORDER: ("2026-12-01 12:00:29+00:00",)}
    assert platform_inconsistencies(snapshot, ledger(), refunded, grace_seconds=30) == [
        f"order {ORDER} was paid in time but is cancelled"
    ]
