"""My orders, an order's page with its countdown, paying and cancelling (orders and payments:
the contract_double)."""

import re
from datetime import timedelta
from uuid import uuid4

import httpx
import pytest
from client_testing.browser import Browser
from client_testing.contract_double import (
    AUTHENTICATION_FAILED,
    BANK_PAGE,
    THREE_D_SECURE,
    ContractDouble,
    DoubleOrder,
)


async def placed_order(
    browser: Browser, double: ContractDouble, **kwargs: timedelta
) -> DoubleOrder:
    """A signed-in buyer with an order for someone else's ticket."""
    await browser.sign_up()
    ticket = double.seed_ticket(uuid4(), "Stadium tour", "55")
    return double.seed_order(
        browser.user_id, ticket, expires_in=kwargs.get("expires_in", timedelta(minutes=15))
    )


@pytest.fixture
async def order(browser: Browser, contract_double: ContractDouble) -> DoubleOrder:
    """The browser's order (15 minutes left) for someone else's ticket."""
    return await placed_order(browser, contract_double)


def page_of(order: DoubleOrder) -> str:
    return f"/orders/{order.id}"


async def pay(browser: Browser, order: DoubleOrder, fields: dict[str, str]) -> httpx.Response:
    """Submit the order page's pay form."""
    return await browser.submit(page_of(order), f"{page_of(order)}/pay", fields)


async def went_to_the_bank(
    browser: Browser, double: ContractDouble, order: DoubleOrder, outcome: str
) -> None:
    """The buyer paid with a card needing 3-D Secure and authenticated (or failed) there."""
    await pay(browser, order, {"token": THREE_D_SECURE})
    double.authentications[order.id] = outcome


async def test_order_pages_need_a_signed_in_user(browser: Browser) -> None:
    for path in ("/orders", f"/orders/{uuid4()}"):
        response = await browser.get(path)

        assert response.status_code == 303
        assert response.headers["location"] == f"/auth/signin?next={path}"


async def test_my_orders_lists_the_callers_orders_in_the_first_html(
    browser: Browser, contract_double: ContractDouble, order: DoubleOrder
) -> None:
    contract_double.seed_order(
        uuid4(), contract_double.seed_ticket(uuid4(), "Not mine"), expires_in=timedelta(minutes=5)
    )

    response = await browser.get("/orders")

    rows = re.findall(r'data-testid="order-row".*?</li>', response.text, re.S)
    assert len(rows) == 1
    assert f'href="/orders/{order.id}"' in rows[0] and "Stadium tour" in rows[0]
    assert 'data-testid="order-status">created<' in rows[0]


async def test_order_page_shows_the_time_left_and_the_pay_form(
    browser: Browser, contract_double: ContractDouble
) -> None:
    order = await placed_order(browser, contract_double, expires_in=timedelta(minutes=3))

    response = await browser.get(page_of(order))

    assert response.status_code == 200
    countdown = re.search(r'data-testid="countdown"[^>]*>(\d\d):(\d\d)</time>', response.text)
    assert countdown, response.text
    assert countdown.group(1) in ("02", "03")
    assert 'data-testid="pay-button"' in response.text
    assert 'value="tok_visa"' in response.text and "Visa 4242 (tok_visa)" in response.text
    assert 'value="tok_chargeDeclined"' in response.text
    assert "js.stripe.com" not in response.text


async def test_the_countdown_script_carries_the_csp_nonce(
    browser: Browser, order: DoubleOrder
) -> None:
    response = await browser.get(page_of(order))

    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"])
    assert nonce and f'<script nonce="{nonce.group(1)}">' in response.text


async def test_paying_with_the_visa_test_card_shows_the_order_complete(
    browser: Browser, order: DoubleOrder
) -> None:
    page = page_of(order)

    response = await pay(browser, order, {"token": "tok_visa"})

    assert response.status_code == 303
    assert response.headers["location"] == f"{page}?paid=1"
    shown = await browser.get(response.headers["location"])
    assert 'data-testid="order-status">complete<' in shown.text
    assert 'data-testid="order-complete"' in shown.text
    assert 'data-testid="pay-button"' not in shown.text


async def test_a_payment_not_yet_confirmed_by_orders_is_shown_as_pending(
    browser: Browser, order: DoubleOrder
) -> None:
    response = await browser.get(f"/orders/{order.id}?paid=1")

    assert 'data-testid="payment-pending"' in response.text
    assert '<meta http-equiv="refresh"' in response.text
    assert 'data-testid="pay-button"' not in response.text


async def test_a_declined_card_is_shown_on_the_order_page(
    browser: Browser, order: DoubleOrder
) -> None:
    response = await pay(browser, order, {"token": "tok_chargeDeclined"})

    assert response.status_code == 400
    assert '<li data-testid="form-error">Your card was declined.</li>' in response.text
    assert 'data-testid="pay-button"' in response.text
    assert re.search(r'value="tok_chargeDeclined"[^>]*\s+checked>', response.text)
    assert order.status == "created"


async def test_a_card_needing_3d_secure_sends_the_buyer_to_the_banks_page(
    browser: Browser, order: DoubleOrder
) -> None:
    response = await pay(browser, order, {"token": THREE_D_SECURE})

    assert response.status_code == 303
    assert response.headers["location"] == BANK_PAGE
    assert order.status == "created"


async def test_back_from_a_completed_3d_secure_the_order_is_paid(
    browser: Browser, contract_double: ContractDouble, order: DoubleOrder
) -> None:
    page = page_of(order)
    await went_to_the_bank(browser, contract_double, order, "succeeded")  # pressed Complete

    response = await browser.get(f"{page}/authenticated?payment_intent=pi_1&redirect_status=x")

    assert response.status_code == 303
    assert response.headers["location"] == f"{page}?paid=1"
    assert order.status == "complete"


async def test_back_from_a_failed_3d_secure_the_failure_is_shown_and_the_order_payable(
    browser: Browser, contract_double: ContractDouble, order: DoubleOrder
) -> None:
    await went_to_the_bank(browser, contract_double, order, "failed")  # pressed Fail

    response = await browser.get(f"{page_of(order)}/authenticated?redirect_status=succeeded")

    assert response.status_code == 400
    assert f'<li data-testid="form-error">{AUTHENTICATION_FAILED}</li>' in response.text
    assert 'data-testid="pay-button"' in response.text
    assert order.status == "created"


async def test_a_missing_card_is_shown_next_to_the_card_choice(
    browser: Browser, order: DoubleOrder
) -> None:
    response = await pay(browser, order, {})

    assert 'data-field="token">Token must not be empty</p>' in response.text


async def test_an_expired_order_says_so_and_cannot_be_paid(
    browser: Browser, contract_double: ContractDouble
) -> None:
    order = await placed_order(browser, contract_double, expires_in=timedelta(seconds=-1))
    order.status = "cancelled"

    response = await browser.get(page_of(order))

    assert "This order has expired" in response.text
    assert 'data-testid="order-status">cancelled<' in response.text
    assert 'data-testid="countdown"' not in response.text
    assert 'data-testid="pay-button"' not in response.text


async def test_cancelling_an_order_frees_its_ticket(browser: Browser, order: DoubleOrder) -> None:
    page = page_of(order)

    response = await browser.submit(page, f"{page}/cancel")

    assert response.status_code == 303
    assert order.status == "cancelled" and order.ticket.order_id is None
    assert "This order was cancelled" in (await browser.get(page)).text


async def test_someone_elses_order_is_not_shown(
    browser: Browser, contract_double: ContractDouble
) -> None:
    await browser.sign_up()
    ticket = contract_double.seed_ticket(uuid4())
    order = contract_double.seed_order(uuid4(), ticket, expires_in=timedelta(minutes=5))

    response = await browser.get(page_of(order))

    assert response.status_code == 401
    assert "Not authorized" in response.text
    assert "Stadium" not in response.text
