"""3-D Secure (DESIGN §3 money rules): a card that needs authentication pays only once the
buyer authenticated; until then nothing counts as paid and the order stays payable."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from ticketing.common.auth import KeyPair
from ticketing.common.events import OrderCreated
from ticketing.testkit.http import sign_in_as

if TYPE_CHECKING:
    from conftest import Pay, World

THREE_D_SECURE = "tok_threeDSecure2Required"


@pytest.fixture
async def pending(pay: Pay, order: OrderCreated) -> httpx.Response:
    """The first answer to paying the buyer's order with a card that needs authentication."""
    return await pay(order.data.id, THREE_D_SECURE)


async def authenticate(pending: httpx.Response, outcome: str) -> httpx.Response:
    """What the buyer does on Stripe's authentication page: press Complete or Fail."""
    async with httpx.AsyncClient() as browser:
        return await browser.post(f"{pending.json()['nextActionUrl']}/{outcome}")


async def settle(client: httpx.AsyncClient, order: OrderCreated) -> httpx.Response:
    """What the client asks once the buyer is back from Stripe's page."""
    return await client.post("/api/payments/authenticated", json={"orderId": str(order.data.id)})


async def test_a_card_needing_authentication_answers_202_and_charges_nothing_yet(
    pay: Pay, world: World, order: OrderCreated
) -> None:
    response = await pay(order.data.id, THREE_D_SECURE)

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "requires_action"
    assert body["nextActionUrl"].startswith(f"{world.sandbox.url}/_sandbox/3ds/pi_")
    assert await world.charges_for(order.data.id) == []
    assert await world.payments_for(order.data.id) == []
    assert (await world.replicated_order(order.data.id)).status == "created"  # type: ignore[union-attr]


async def test_completing_authentication_pays_the_order_exactly_like_a_direct_charge(
    client: httpx.AsyncClient, pending: httpx.Response, world: World, order: OrderCreated
) -> None:
    returned = await authenticate(pending, "complete")
    settled = await settle(client, order)

    assert returned.status_code == 303
    assert f"/orders/{order.data.id}/authenticated?" in returned.headers["location"]
    assert settled.status_code == 201
    (payment,) = await world.payments_for(order.data.id)
    assert settled.json() == {"id": str(payment.id)}
    (charge,) = await world.charges_for(order.data.id)
    assert charge["payment_intent"] == payment.stripe_id


async def test_failed_authentication_shows_the_cards_message_and_another_card_may_pay(
    client: httpx.AsyncClient, pay: Pay, pending: httpx.Response, world: World, order: OrderCreated
) -> None:
    await authenticate(pending, "fail")
    failed = await settle(client, order)
    paid = await pay(order.data.id, "tok_visa")

    assert failed.status_code == 400
    assert "unable to authenticate" in failed.json()["errors"][0]["message"]
    assert paid.status_code == 201
    assert len(await world.charges_for(order.data.id)) == 1


async def test_paying_again_with_another_card_abandons_an_unfinished_authentication(
    pay: Pay, pending: httpx.Response, world: World, order: OrderCreated
) -> None:
    paid = await pay(order.data.id, "tok_visa")
    late = await authenticate(pending, "complete")

    assert paid.status_code == 201
    assert late.status_code == 400  # that intent was cancelled: it can no longer charge
    assert len(await world.charges_for(order.data.id)) == 1


async def test_without_authentication_nothing_completes(
    client: httpx.AsyncClient, pending: httpx.Response, world: World, order: OrderCreated
) -> None:
    settled = await settle(client, order)

    assert settled.status_code == 202  # still waiting for the buyer
    assert await world.payments_for(order.data.id) == []
    assert await world.charges_for(order.data.id) == []


async def test_only_the_orders_owner_may_finish_its_payment(
    client: httpx.AsyncClient,
    jwt_keys: KeyPair,
    pending: httpx.Response,
    world: World,
    order: OrderCreated,
) -> None:
    await authenticate(pending, "complete")
    sign_in_as(client, jwt_keys)  # someone else

    response = await settle(client, order)

    assert response.status_code == 401  # as POST /api/payments answers for someone else's order
    assert await world.payments_for(order.data.id) == []
