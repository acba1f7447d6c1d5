"""At most one charge per order (DESIGN §3): the attempt is claimed before Stripe is called,
and ``Idempotency-Key`` never stores a transient answer nor rolls back a recorded payment.
Charges are counted at the Stripe sandbox."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import uuid4

from ticketing.common.auth import CurrentUser
from ticketing.common.events import OrderCreated
from ticketing.testkit.http import assert_refused, eventually

if TYPE_CHECKING:
    from conftest import Pay, World


async def test_three_concurrent_submits_with_one_key_charge_once_and_agree_on_the_payment(
    pay: Pay, world: World, order: OrderCreated
) -> None:
    key = {"Idempotency-Key": str(uuid4())}

    answers = await asyncio.gather(*(pay(order.data.id, headers=key) for _ in range(3)))
    retry = await pay(order.data.id, headers=key)

    assert len(await world.charges_for(order.data.id)) == 1
    (payment,) = await world.payments_for(order.data.id)
    assert sorted(a.status_code for a in answers)[0] == 201
    for answer in answers:
        assert answer.status_code in (201, 409)
        if answer.status_code == 201:
            assert answer.json() == {"id": str(payment.id)}
    assert retry.status_code == 201
    assert retry.json() == {"id": str(payment.id)}


async def test_two_concurrent_payments_with_different_cards_charge_once(
    pay: Pay, world: World, order: OrderCreated
) -> None:
    visa, mastercard = await asyncio.gather(
        pay(order.data.id, "tok_visa"), pay(order.data.id, "tok_mastercard")
    )

    assert sorted([visa.status_code, mastercard.status_code]) in ([201, 400], [201, 409])
    assert len(await world.charges_for(order.data.id)) == 1
    assert len(await world.payments_for(order.data.id)) == 1


async def test_a_key_whose_first_request_was_refused_as_in_flight_can_pay_later(
    pay: Pay, world: World, order: OrderCreated
) -> None:
    first_key, second_key = {"Idempotency-Key": "a"}, {"Idempotency-Key": "b"}

    first, second = await asyncio.gather(
        pay(order.data.id, headers=first_key),
        pay(order.data.id, "tok_mastercard", headers=second_key),
    )
    loser_key = first_key if first.status_code != 201 else second_key
    loser_card = "tok_visa" if loser_key is first_key else "tok_mastercard"
    again = await pay(order.data.id, loser_card, headers=loser_key)

    # The 409 was not stored as that key's answer: the retry ran for real and found it paid.
    if 409 in (first.status_code, second.status_code):
        assert_refused(again, 400, "Order is already paid")
    assert len(await world.charges_for(order.data.id)) == 1


async def test_a_payment_at_or_after_the_deadline_is_refused_by_payments_own_clock(
    pay: Pay, world: World, buyer: CurrentUser
) -> None:
    order = await world.an_order(buyer.id, expires_in=timedelta(seconds=-1))

    response = await pay(order.data.id)

    assert_refused(response, 400, "Order has expired")
    assert await world.charges_for(order.data.id) == []


async def test_a_refund_that_always_fails_is_parked_and_the_refunds_after_it_are_made(
    pay: Pay, world: World, buyer: CurrentUser
) -> None:
    disputed, other = await world.an_order(buyer.id), await world.an_order(buyer.id)
    for order in (disputed, other):
        assert (await pay(order.data.id)).status_code == 201
    (disputed_charge,) = await world.charges_for(disputed.data.id)
    await world.fail_refunds_of(disputed_charge["payment_intent"])

    await world.cancel(disputed)  # orders cancelled both after payment: both are owed back
    await world.cancel(other)

    async def other_refunded_and_disputed_parked() -> None:
        charges = await world.charges_for(other.data.id)
        assert [c["amount_refunded"] == c["amount"] for c in charges] == [True]
        parked = await world.parked_refunds()
        assert [p.intent_id for p in parked] == [disputed_charge["payment_intent"]]
        assert "charged back" in (parked[0].last_error or "")

    await eventually(other_refunded_and_disputed_parked, timeout=30)
