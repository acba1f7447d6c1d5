"""POST /api/payments: the owner of an order pays it once, through Stripe (the sandbox)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

import httpx

from ticketing.common.auth import CurrentUser, KeyPair
from ticketing.common.events import OrderCreated, PaymentCreated
from ticketing.testkit.events import events_of
from ticketing.testkit.http import assert_refused, eventually, new_client_like, sign_in_as

if TYPE_CHECKING:
    from conftest import Pay, World


async def test_paying_an_order_charges_it_records_the_payment_and_announces_it(
    pay: Pay, world: World, order: OrderCreated
) -> None:
    response = await pay(order.data.id)

    assert response.status_code == 201
    payment_id = UUID(response.json()["id"])
    (payment,) = await world.payments_for(order.data.id)
    assert payment.id == payment_id
    (charge,) = await world.charges_for(order.data.id)
    assert (charge["amount"], charge["currency"]) == (1999, "usd")
    assert charge["payment_intent"] == payment.stripe_id
    (event,) = await eventually(lambda: published_payments(world))
    assert event.data.model_dump() == {
        "id": payment_id,
        "order_id": order.data.id,
        "stripe_id": payment.stripe_id,
    }


async def published_payments(world: World) -> list[PaymentCreated]:
    events = await events_of(world.bus, PaymentCreated)
    assert events, "no payment.created yet"
    return events


async def test_a_payment_method_id_pays_too(pay: Pay, world: World, order: OrderCreated) -> None:
    response = await pay(order.data.id, "pm_card_visa")

    assert response.status_code == 201
    assert len(await world.charges_for(order.data.id)) == 1


async def test_a_declined_card_is_refused_with_stripes_message_and_another_card_may_pay(
    pay: Pay, world: World, order: OrderCreated
) -> None:
    declined = await pay(order.data.id, "tok_chargeDeclined")
    paid = await pay(order.data.id, "tok_visa")

    assert_refused(declined, 400, "Your card was declined.")
    assert paid.status_code == 201
    assert len(await world.charges_for(order.data.id)) == 1


async def test_an_unknown_card_token_is_a_400_about_the_token(
    pay: Pay, order: OrderCreated
) -> None:
    response = await pay(order.data.id, "pm_no_such_card")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "token"


async def test_a_double_submit_charges_once(pay: Pay, world: World, order: OrderCreated) -> None:
    first, second = await asyncio.gather(pay(order.data.id), pay(order.data.id))

    assert len(await world.charges_for(order.data.id)) == 1
    (payment,) = await world.payments_for(order.data.id)
    answers = sorted(r.status_code for r in (first, second))
    assert answers[0] == 201  # one paid; its twin was told it is paid, or still in flight
    assert answers[1] in (400, 409)
    for response in (first, second):
        if response.status_code == 201:
            assert response.json() == {"id": str(payment.id)}
        elif response.status_code == 400:
            assert response.json() == {"errors": [{"message": "Order is already paid"}]}
        else:
            message = "A payment for this order is already in progress"
            assert response.json() == {"errors": [{"message": message}]}


async def test_paying_again_is_refused_without_charging_again(
    pay: Pay, world: World, order: OrderCreated
) -> None:
    await pay(order.data.id)

    again = await pay(order.data.id)
    other_card = await pay(order.data.id, "pm_card_mastercard")

    for response in (again, other_card):
        assert_refused(response, 400, "Order is already paid")
    assert len(await world.charges_for(order.data.id)) == 1


async def test_an_idempotency_key_replays_the_first_answer(
    pay: Pay, world: World, order: OrderCreated
) -> None:
    headers = {"Idempotency-Key": f"pay-{uuid4()}"}

    first = await pay(order.data.id, headers=headers)
    retry = await pay(order.data.id, headers=headers)
    other = await pay(order.data.id, "pm_card_visa", headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 400
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len(await world.charges_for(order.data.id)) == 1


async def test_cannot_pay_for_a_cancelled_order(
    pay: Pay, world: World, order: OrderCreated
) -> None:
    await world.cancel(order)

    response = await pay(order.data.id)

    assert_refused(response, 400, "Cannot pay for a cancelled order")
    assert await world.charges_for(order.data.id) == []


async def test_a_payment_racing_the_orders_expiry_is_refunded(
    pay: Pay, world: World, order: OrderCreated
) -> None:
    world.after_each_charge(lambda: world.cancel(order))  # the expiry lands mid-payment

    response = await pay(order.data.id)

    assert_refused(response, 400, "Cannot pay for a cancelled order")
    (charge,) = await world.charges_for(order.data.id)
    assert charge["amount_refunded"] == charge["amount"]
    assert await world.payments_for(order.data.id) == []


async def test_only_the_orders_owner_may_pay(
    client: httpx.AsyncClient, jwt_keys: KeyPair, pay: Pay, world: World, order: OrderCreated
) -> None:
    async with new_client_like(client) as stranger, new_client_like(client) as anonymous:
        sign_in_as(stranger, jwt_keys)

        by_stranger = await pay(order.data.id, by=stranger)
        signed_out = await pay(order.data.id, by=anonymous)

    for response in (by_stranger, signed_out):
        assert_refused(response, 401, "Not authorized")
    assert await world.charges_for(order.data.id) == []


async def test_paying_an_unknown_order_is_a_404(pay: Pay, buyer: CurrentUser) -> None:
    response = await pay(uuid4())

    assert_refused(response, 404, "Not found")


async def test_a_malformed_order_id_or_a_missing_token_is_a_400_naming_the_field(
    client: httpx.AsyncClient, pay: Pay, buyer: CurrentUser
) -> None:
    malformed = await pay("not-an-id")
    no_order = await client.post("/api/payments", json={"token": "tok_visa"})
    no_token = await client.post("/api/payments", json={"orderId": str(uuid4())})
    empty_token = await pay(uuid4(), "")

    assert malformed.status_code == no_order.status_code == 400
    assert no_token.status_code == empty_token.status_code == 400
    assert [e["field"] for e in malformed.json()["errors"]] == ["orderId"]
    assert [e["field"] for e in no_order.json()["errors"]] == ["orderId"]
    assert [e["field"] for e in no_token.json()["errors"]] == ["token"]
    assert [e["field"] for e in empty_token.json()["errors"]] == ["token"]


async def test_a_banned_buyer_cannot_pay(
    pay: Pay, world: World, buyer: CurrentUser, order: OrderCreated
) -> None:
    await world.ban(buyer.id)

    response = await pay(order.data.id)

    assert response.status_code == 401


async def test_a_payment_whose_order_is_cancelled_afterwards_is_refunded(
    pay: Pay, world: World, order: OrderCreated
) -> None:
    # The expiry and the payment crossed between services: payments recorded the charge, then
    # orders (which had expired the order first) publishes order.cancelled.
    assert (await pay(order.data.id)).status_code == 201

    await world.cancel(order)

    async def refunded() -> None:
        (charge,) = await world.charges_for(order.data.id)
        assert charge["amount_refunded"] == charge["amount"]

    await eventually(refunded)
