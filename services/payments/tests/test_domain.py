"""The payment rules, without I/O."""

from decimal import Decimal
from uuid import uuid4

import pytest

from ticketing.common.errors import BadRequestError, NotAuthorizedError, NotFoundError
from ticketing.payments import domain
from ticketing.payments.domain import Settlement
from ticketing.payments.models import Order
from ticketing.payments.stripe_gateway import payment_method_params


def an_order(status: str = "created") -> Order:
    return Order(id=uuid4(), user_id=uuid4(), status=status, price=Decimal("10"), version=0)


def test_the_owner_may_pay_an_open_order() -> None:
    order = an_order()

    assert domain.ensure_payable(order, by=order.user_id, paid=False) is order


def test_an_unknown_order_cannot_be_paid() -> None:
    with pytest.raises(NotFoundError):
        domain.ensure_payable(None, by=uuid4(), paid=False)


def test_someone_elses_order_cannot_be_paid() -> None:
    with pytest.raises(NotAuthorizedError):
        domain.ensure_payable(an_order(), by=uuid4(), paid=False)


def test_a_cancelled_order_cannot_be_paid() -> None:
    order = an_order("cancelled")

    with pytest.raises(BadRequestError, match="Cannot pay for a cancelled order"):
        domain.ensure_payable(order, by=order.user_id, paid=False)


@pytest.mark.parametrize(("status", "paid"), [("created", True), ("complete", False)])
def test_a_paid_order_cannot_be_paid_again(status: str, paid: bool) -> None:
    order = an_order(status)

    with pytest.raises(BadRequestError, match="Order is already paid"):
        domain.ensure_payable(order, by=order.user_id, paid=paid)


@pytest.mark.parametrize(
    ("status", "recorded", "expected"),
    [
        ("created", None, Settlement.RECORD),
        ("awaiting:payment", None, Settlement.RECORD),
        ("created", "pi_1", Settlement.ALREADY_RECORDED),
        ("cancelled", "pi_1", Settlement.ALREADY_RECORDED),
        ("created", "pi_other", Settlement.REFUND_DUPLICATE),
        ("cancelled", None, Settlement.REFUND_CANCELLED),
    ],
)
def test_a_charge_is_recorded_once_or_refunded(
    status: str, recorded: str | None, expected: Settlement
) -> None:
    assert domain.settle(status, recorded_intent=recorded, charged_intent="pi_1") is expected


def test_the_same_card_on_the_same_order_reuses_one_charge_key() -> None:
    order_id = uuid4()

    same = domain.charge_idempotency_key(order_id, "tok_visa")
    again = domain.charge_idempotency_key(order_id, "tok_visa")
    other_card = domain.charge_idempotency_key(order_id, "tok_mastercard")
    other_order = domain.charge_idempotency_key(uuid4(), "tok_visa")

    assert same == again
    assert len({same, other_card, other_order}) == 3
    assert len(domain.charge_idempotency_key(order_id, "x" * 255)) <= 255


def test_payment_method_ids_and_card_tokens_are_sent_the_way_stripe_expects() -> None:
    assert payment_method_params("pm_card_visa") == {"payment_method": "pm_card_visa"}
    assert payment_method_params("tok_visa") == {
        "payment_method_data": {"type": "card", "card": {"token": "tok_visa"}}
    }
