"""Payments' test fixtures, and ``World``: what a test arranges through the bus (orders as the
orders service would publish them) and checks in the database and the Stripe sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request, Response

from ticketing.common.auth import CurrentUser, KeyPair
from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.events import OrderCreated, UserBanned, UserBannedData
from ticketing.common.service import ServiceRuntime
from ticketing.payments.app import create_app
from ticketing.payments.config import PaymentsSettings
from ticketing.payments.models import Order, Payment, RefundOwed
from ticketing.payments.refunds import parked_refunds
from ticketing.stripe_sandbox import create_app as create_sandbox_app
from ticketing.stripe_sandbox import serve
from ticketing.testkit.events import order_cancelled, order_created, publish_event
from ticketing.testkit.http import eventually, sign_in_as

WEBHOOK_SECRET = "whsec_test_secret"


Hook = Callable[[], Awaitable[None]]
Pay = Callable[..., Awaitable[httpx.Response]]


@dataclass
class Sandbox:
    """The Stripe sandbox, plus hooks a test may run right after a charge (in the test's loop)."""

    url: str = ""
    test_loop: asyncio.AbstractEventLoop | None = None
    after_charge: list[Hook] = field(default_factory=list)

    async def run_after_charge_hooks(self, request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        if request.method == "POST" and request.url.path == "/v1/payment_intents":
            assert self.test_loop is not None
            for hook in self.after_charge:
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(hook(), self.test_loop))
        return response


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """One Stripe sandbox for the session; tests tell their charges apart by order id."""
    state = Sandbox()
    app = create_sandbox_app()
    app.middleware("http")(state.run_after_charge_hooks)
    with serve(app=app) as url:
        state.url = url
        yield state


@pytest.fixture
async def sandbox_url(sandbox: Sandbox) -> AsyncIterator[str]:
    sandbox.test_loop = asyncio.get_running_loop()
    yield sandbox.url
    sandbox.after_charge.clear()


@pytest.fixture
async def payments_settings(
    service_settings: Callable[[str], Awaitable[dict[str, Any]]], sandbox_url: str
) -> PaymentsSettings:
    return PaymentsSettings(
        **await service_settings("payments"),
        stripe_api_base=sandbox_url,
        stripe_webhook_secret=WEBHOOK_SECRET,
        refund_poll_seconds=0.2,
        refund_max_attempts=3,
    )


@pytest.fixture
def app(payments_settings: PaymentsSettings) -> FastAPI:
    return create_app(payments_settings)


@pytest.fixture
def world(app: FastAPI, bus: Bus, sandbox: Sandbox, sandbox_url: str) -> World:
    return World(app, bus, sandbox)


@pytest.fixture
def buyer(client: httpx.AsyncClient, jwt_keys: KeyPair) -> CurrentUser:
    """The user ``client`` is signed in as."""
    return sign_in_as(client, jwt_keys)


@pytest.fixture
async def order(buyer: CurrentUser, world: World) -> OrderCreated:
    """An order of the buyer's (19.99, 15 minutes to pay), once payments has it."""
    return await world.an_order(buyer.id)


@pytest.fixture
def pay(client: httpx.AsyncClient) -> Pay:
    """POST /api/payments for an order with a card, from ``client`` unless ``by`` another."""

    async def post(
        order_id: UUID | str,
        token: str = "tok_visa",
        *,
        headers: dict[str, str] | None = None,
        by: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        body = {"orderId": str(order_id), "token": token}
        return await (by or client).post("/api/payments", json=body, headers=headers)

    return post


@dataclass
class World:
    app: FastAPI
    bus: Bus
    sandbox: Sandbox

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime

    async def replicated_order(self, order_id: UUID) -> Order | None:
        async with self.runtime.sessionmaker() as session:
            order: Order | None = await session.get(Order, order_id)
            return order

    async def payments_for(self, order_id: UUID) -> list[Payment]:
        async with self.runtime.sessionmaker() as session:
            rows = await session.scalars(sa.select(Payment).where(Payment.order_id == order_id))
            return list(rows)

    async def order_is(self, order_id: UUID, status: str, version: int) -> None:
        order = await self.replicated_order(order_id)
        assert order is not None, "order not replicated yet"
        assert (order.status, order.version) == (status, version)

    async def an_order(
        self,
        user_id: UUID,
        price: Decimal = Decimal("19.99"),
        expires_in: timedelta = timedelta(minutes=15),
    ) -> OrderCreated:
        """An order.created as the orders service would publish it, once payments has it."""
        event = order_created(user_id, price=price, expires_at=utcnow() + expires_in)
        await publish_event(self.bus, event)
        await eventually(lambda: self.order_is(event.data.id, "created", 0))
        return event

    async def cancel(self, order: OrderCreated) -> None:
        await publish_event(self.bus, order_cancelled(order))
        await eventually(lambda: self.order_is(order.data.id, "cancelled", 1))

    async def charges_for(self, order_id: UUID) -> list[dict[str, Any]]:
        """Charges that moved money for this order, as the Stripe sandbox saw them."""
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{self.sandbox.url}/_sandbox/charges")
        response.raise_for_status()
        return [c for c in response.json()["data"] if c["metadata"].get("orderId") == str(order_id)]

    async def fail_refunds_of(self, intent_id: str) -> None:
        """From now on Stripe refuses every refund of this intent (as for a disputed charge)."""
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{self.sandbox.url}/_sandbox/refund_failures", json={"payment_intent": intent_id}
            )
        response.raise_for_status()

    async def parked_refunds(self) -> list[RefundOwed]:
        async with self.runtime.sessionmaker() as session:
            return await parked_refunds(session)

    async def ban(self, user_id: UUID) -> None:
        await publish_event(self.bus, UserBanned(data=UserBannedData(user_id=user_id)))

        async def banned() -> None:
            assert await self.runtime.is_banned(user_id)

        await eventually(banned)

    def after_each_charge(self, hook: Hook) -> None:
        """Run ``hook`` after Stripe charged, before payments hears back: a race, on purpose."""
        self.sandbox.after_charge.append(hook)
