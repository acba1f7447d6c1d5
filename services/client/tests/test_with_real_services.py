"""The client on the real platform: tickets, orders, payments (on the Stripe sandbox) and
query, besides auth: sell, see it listed, buy it, pay, over the real event flow."""

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from client_testing.browser import Browser, BrowserFactory
from starlette.types import ASGIApp

from ticketing.orders.app import create_app as create_orders_app
from ticketing.orders.config import OrdersSettings
from ticketing.payments.app import create_app as create_payments_app
from ticketing.payments.config import PaymentsSettings
from ticketing.query.app import create_app as create_query_app
from ticketing.query.config import QuerySettings
from ticketing.stripe_sandbox import serve
from ticketing.testkit.http import RoutedTransport, eventually
from ticketing.tickets.app import create_app as create_tickets_app
from ticketing.tickets.config import TicketsSettings

SettingsFactory = Callable[[str], Awaitable[dict[str, Any]]]


@pytest.fixture(scope="module")
def stripe_sandbox() -> Iterator[str]:
    with serve() as url:
        yield url


@pytest.fixture
async def upstreams(
    auth_app: ASGIApp, service_settings: SettingsFactory, stripe_sandbox: str
) -> AsyncIterator[httpx.AsyncBaseTransport]:
    payments = PaymentsSettings(
        **await service_settings("payments"),
        stripe_api_base=stripe_sandbox,
        stripe_webhook_secret="whsec_client_tests",
    )
    apps = {
        "/api/payments": create_payments_app(payments),
        "/api/tickets": create_tickets_app(TicketsSettings(**await service_settings("tickets"))),
        "/api/orders": create_orders_app(OrdersSettings(**await service_settings("orders"))),
        "/api/query": create_query_app(QuerySettings(**await service_settings("query"))),
    }
    async with AsyncExitStack() as stack:
        running: dict[str, ASGIApp] = {"/api/users": auth_app}
        for prefix, app in apps.items():
            manager = await stack.enter_async_context(LifespanManager(app, startup_timeout=60))
            running[prefix] = manager.app
        yield RoutedTransport(running)


async def test_a_ticket_sold_through_the_client_is_listed_bought_and_shown_as_an_order(
    new_browser: BrowserFactory,
) -> None:
    seller, buyer = new_browser(), new_browser()
    await seller.sign_up()
    ticket_page = await seller.sell("Real concert", "12.34")
    await buyer.sign_up()

    async def listed() -> None:
        assert "Real concert" in (await buyer.get("/")).text

    await eventually(listed)
    assert 'data-testid="seller-note"' in (await seller.get(ticket_page)).text

    async def purchased() -> httpx.Response:
        response = await buyer.submit(ticket_page, f"{ticket_page}/purchase")
        assert response.status_code == 303, "orders has not heard of the ticket yet"
        return response

    order_page = (await eventually(purchased)).headers["location"]
    page = await buyer.get(order_page)
    assert 'data-testid="order-status">created<' in page.text
    assert re.search(r'data-testid="countdown"[^>]*>1[45]:\d\d<', page.text)
    assert 'data-testid="pay-button"' in page.text
    assert order_page in (await buyer.get("/orders")).text

    async def reserved() -> None:
        assert 'data-testid="ticket-status">reserved<' in (await buyer.get(ticket_page)).text

    await eventually(reserved)


async def order_for_a_new_ticket(new_browser: BrowserFactory) -> tuple[Browser, str]:
    """A buyer on the page of their order for a ticket someone just put on sale."""
    seller, buyer = new_browser(), new_browser()
    await seller.sign_up()
    ticket_page = await seller.sell("Paid concert", "30")
    await buyer.sign_up()

    async def purchased() -> httpx.Response:
        response = await buyer.submit(ticket_page, f"{ticket_page}/purchase")
        assert response.status_code == 303, "orders has not heard of the ticket yet"
        return response

    return buyer, (await eventually(purchased)).headers["location"]


async def pay(buyer: Browser, order_page: str, token: str) -> httpx.Response:
    async def paid() -> httpx.Response:
        response = await buyer.submit(order_page, f"{order_page}/pay", {"token": token})
        assert response.status_code != 409, "payments has not heard of the order yet"
        return response

    return await eventually(paid)


async def test_paying_with_the_visa_test_card_completes_the_order(
    new_browser: BrowserFactory,
) -> None:
    buyer, order_page = await order_for_a_new_ticket(new_browser)

    response = await pay(buyer, order_page, "tok_visa")

    assert response.status_code == 303
    assert response.headers["location"] == f"{order_page}?paid=1"

    async def complete() -> None:
        page = await buyer.get(response.headers["location"])
        assert 'data-testid="order-status">complete<' in page.text

    await eventually(complete)


async def test_a_declined_card_is_shown_on_the_order_page(new_browser: BrowserFactory) -> None:
    buyer, order_page = await order_for_a_new_ticket(new_browser)

    response = await pay(buyer, order_page, "tok_chargeDeclined")

    assert response.status_code == 400
    assert '<li data-testid="form-error">Your card was declined.</li>' in response.text
    assert 'data-testid="order-status">created<' in response.text
