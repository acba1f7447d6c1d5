"""The money invariant's rule (DESIGN §3), pure: kept charges = 1 if the order is complete,
else 0. The platform tests (tests/integration/test_money.py) run it against real services."""

from ticketing.testkit.money_invariant import Charge, Violation, money_violations


def charge(charge_id: str, order_id: str, *, amount: int = 2000, refunded: int = 0) -> Charge:
    return {
        "id": charge_id,
        "amount": amount,
        "amount_refunded": refunded,
        "metadata": {"orderId": order_id},
    }


def test_a_complete_order_with_one_kept_charge_and_a_refunded_one_is_right() -> None:
    charges = [charge("ch_1", "o1"), charge("ch_2", "o1", refunded=2000)]

    assert money_violations({"o1": "complete"}, charges) == []


def test_a_complete_order_must_keep_exactly_one_charge() -> None:
    charges = [charge("ch_1", "o2"), charge("ch_2", "o2")]

    violations = money_violations({"o1": "complete", "o2": "complete"}, charges)

    assert violations == [
        Violation("o1", "complete", ()),
        Violation("o2", "complete", ("ch_1", "ch_2")),
    ]
    assert str(violations[0]) == "order o1 (complete): 0 charge(s) kept (none), expected 1"


def test_an_order_that_is_not_complete_keeps_nothing_not_even_part_of_a_charge() -> None:
    statuses = {"o1": "cancelled", "o2": "created", "o3": "cancelled"}
    charges = [
        charge("ch_1", "o1", refunded=500),
        charge("ch_2", "o2"),
        charge("ch_3", "o3", refunded=2000),
    ]

    violations = money_violations(statuses, charges)

    assert violations == [
        Violation("o1", "cancelled", ("ch_1",)),
        Violation("o2", "created", ("ch_2",)),
    ]


def test_charges_of_unknown_orders_count_only_when_every_charge_is_ours() -> None:
    charges = [charge("ch_1", "elsewhere"), charge("ch_2", "gone", refunded=2000)]

    assert money_violations({}, charges) == []
    assert money_violations({}, charges, every_charge_is_ours=True) == [
        Violation("elsewhere", None, ("ch_1",))
    ]
