"""The payment rules, without I/O."""

from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from ticketing.common.contracts import utcnow
from ticketing.common.errors import BadRequestError, NotAuthorizedError, NotFoundError
from ticketing.payments import domain
from ticketing.payments.domain import Intent, Settlement, Step
from ticketing.payments.models import Order, PaymentAttempt
from ticketing.payments.stripe_gateway import payment_method_params

NOW = utcnow()
LEASE = timedelta(seconds=120)


def an_order(status: str = "created", expires_in: timedelta = timedelta(minutes=15)) -> Order:
    return Order(
        id=uuid4(),
        user_id=uuid4(),
        status=status,
        price=Decimal("10"),
        version=0,
        expires_at=NOW + expires_in,
    )


def test_the_owner_may_pay_an_open_order() -> None:
    order = an_order()

    assert domain.ensure_payable(order, by=order.user_id, paid=False, now=NOW) is order


def test_an_unknown_order_cannot_be_paid() -> None:
    with pytest.raises(NotFoundError):
        domain.ensure_payable(None, by=uuid4(), paid=False, now=NOW)


def test_someone_elses_order_cannot_be_paid() -> None:
    with pytest.raises(NotAuthorizedError):
        domain.ensure_payable(an_order(), by=uuid4(), paid=False, now=NOW)


def test_a_cancelled_order_cannot_be_paid() -> None:
    order = an_order("cancelled")

    with pytest.raises(BadRequestError, match="Cannot pay for a cancelled order"):
        domain.ensure_payable(order, by=order.user_id, paid=False, now=NOW)


@pytest.mark.parametrize(("status", "paid"), [("created", True), ("complete", False)])
def test_a_paid_order_cannot_be_paid_again(status: str, paid: bool) -> None:
    order = an_order(status)

    with pytest.raises(BadRequestError, match="Order is already paid"):
        domain.ensure_payable(order, by=order.user_id, paid=paid, now=NOW)


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


@pytest.mark.parametrize("late", [timedelta(0), timedelta(seconds=1)])
def test_an_order_cannot_be_paid_at_or_after_its_deadline(late: timedelta) -> None:
    order = an_order(expires_in=-late)

    with pytest.raises(BadRequestError, match="Order has expired"):
        domain.ensure_payable(order, by=order.user_id, paid=False, now=NOW)


def test_an_order_may_be_paid_a_moment_before_its_deadline() -> None:
    order = an_order(expires_in=timedelta(seconds=1))

    assert domain.ensure_payable(order, by=order.user_id, paid=False, now=NOW) is order


def an_intent(for_order: UUID, **changes: object) -> Intent:
    fields: dict[str, object] = {
        "id": "pi_1",
        "status": "succeeded",
        "amount": 1000,
        "currency": "usd",
        "order_id": str(for_order),
    }
    return Intent(**(fields | changes))  # type: ignore[arg-type]


def test_only_a_succeeded_intent_for_the_orders_amount_and_currency_pays_it() -> None:
    order_id = uuid4()

    def why(**changes: object) -> str | None:
        intent = an_intent(order_id, **changes)
        return domain.why_intent_does_not_pay(
            intent, order_id=order_id, price=Decimal("10"), currency="usd"
        )

    assert why() is None
    assert why(status="requires_action") == "intent status is requires_action"
    assert why(amount=1) is not None
    assert why(currency="eur") is not None
    assert why(order_id=str(uuid4())) is not None
    assert why(order_id=None) is not None


def an_attempt(status: str, claimed_ago: timedelta = timedelta(0)) -> PaymentAttempt:
    return PaymentAttempt(order_id=uuid4(), number=1, status=status, claimed_at=NOW - claimed_ago)


@pytest.mark.parametrize(
    ("attempt", "step"),
    [
        (None, Step.CLAIM),
        (an_attempt("failed"), Step.CLAIM),
        (an_attempt("charging"), Step.IN_FLIGHT),
        (an_attempt("charging", claimed_ago=LEASE), Step.CLAIM),
        (an_attempt("requires_action"), Step.CHECK_PENDING),
        (an_attempt("succeeded"), Step.PAID),
    ],
)
def test_one_attempt_at_a_time_calls_stripe(attempt: PaymentAttempt | None, step: Step) -> None:
    assert domain.next_step(attempt, now=NOW, lease=LEASE) is step


def test_each_attempt_has_its_own_charge_key() -> None:
    order_id = uuid4()

    first = domain.charge_idempotency_key(order_id, 1)

    assert first == domain.charge_idempotency_key(order_id, 1)
    assert first != domain.charge_idempotency_key(order_id, 2)
    assert first != domain.charge_idempotency_key(uuid4(), 1)


def test_a_refund_is_parked_after_its_last_allowed_attempt() -> None:
    assert not domain.refund_is_parked(4, max_attempts=5)
    assert domain.refund_is_parked(5, max_attempts=5)


def test_payment_method_ids_and_card_tokens_are_sent_the_way_stripe_expects() -> None:
    assert payment_method_params("pm_card_visa") == {"payment_method": "pm_card_visa"}
    assert payment_method_params("tok_visa") == {
        "payment_method_data": {"type": "card", "card": {"token": "tok_visa"}}
    }
