"""A person buys a ticket in a real browser: the SSR pages, forms and countdown, end to end."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import uuid4

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

PASSWORD = "password123"


async def sign_up(browser: Browser, site: str, screenshots: Path | None = None) -> Page:
    context: BrowserContext = await browser.new_context(base_url=site)
    page = await context.new_page()
    await page.goto("/auth/signup")
    if screenshots:
        await page.screenshot(path=screenshots / "signup.png", full_page=True)
    await page.get_by_label("Email").fill(f"person-{uuid4().hex[:8]}@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_test_id("signup-submit").click()
    await expect(page.get_by_test_id("current-user")).to_be_visible()
    return page


async def sell(page: Page, title: str, price: str, screenshots: Path | None = None) -> str:
    await page.goto("/tickets/new")
    await page.get_by_label("Title").fill(title)
    await page.get_by_label("Price").fill(price)
    if screenshots:
        await page.screenshot(path=screenshots / "sell.png", full_page=True)
    await page.get_by_test_id("sell-submit").click()
    await expect(page).to_have_url(re.compile(r"/tickets/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[1]


async def reload_until_visible(page: Page, url: str, test_id: str, text: str) -> None:
    """The listing is a read model, updated by events: reload until it shows ``text``."""
    for _ in range(50):
        await page.goto(url)
        if await page.get_by_test_id(test_id).filter(has_text=text).count():
            return
        await page.wait_for_timeout(200)
    await expect(page.get_by_test_id(test_id).filter(has_text=text)).to_be_visible()


async def purchase(page: Page, ticket_id: str) -> None:
    """Click Purchase on the ticket page; orders may not know the ticket for a moment."""
    for _ in range(50):
        await page.goto(f"/tickets/{ticket_id}")
        await page.get_by_test_id("purchase-button").click()
        if "/orders/" in page.url:
            return
        await page.wait_for_timeout(200)
    await expect(page).to_have_url(re.compile(r"/orders/"))


async def order_page(browser: Browser, site: str, title: str, price: str) -> Page:
    """A buyer's page of their new order, for a ticket someone else has just put on sale."""
    ticket_id = await sell(await sign_up(browser, site), f"{title} {uuid4().hex[:6]}", price)
    buyer = await sign_up(browser, site)
    await purchase(buyer, ticket_id)
    return buyer


async def pay_with(page: Page, card: str) -> None:
    """Choose one of the sandbox's test cards on the order page and press Pay."""
    await page.get_by_test_id(f"card-{card}").check()
    await page.get_by_test_id("pay-button").click()


async def fail_authentication(page: Page) -> None:
    """Pay with a card that needs 3-D Secure and press Fail on Stripe's page."""
    await pay_with(page, "tok_threeDSecure2Required")
    await expect(page.get_by_role("button", name="Fail")).to_be_visible()
    await page.get_by_role("button", name="Fail").click()
    await expect(page.get_by_test_id("form-errors")).to_contain_text("unable to authenticate")


@pytest.mark.platform(expiration_window_seconds=900)
async def test_a_buyer_purchases_and_pays_for_a_ticket(
    browser: Browser, site: str, screenshots: Path
) -> None:
    seller = await sign_up(browser, site, screenshots)
    title = f"Concert {uuid4().hex[:6]}"
    ticket_id = await sell(seller, title, "42.50", screenshots)
    await expect(seller.get_by_test_id("purchase-button")).to_have_count(0)  # not for the seller

    buyer = await sign_up(browser, site)
    await reload_until_visible(buyer, "/", "ticket-row", title)
    await buyer.screenshot(path=screenshots / "tickets.png", full_page=True)
    await buyer.get_by_test_id("ticket-row").filter(has_text=title).get_by_role("link").click()
    await expect(buyer.get_by_test_id("ticket-price")).to_have_text(re.compile(r"42\.50"))
    await buyer.screenshot(path=screenshots / "ticket.png", full_page=True)
    await purchase(buyer, ticket_id)

    countdown = buyer.get_by_test_id("countdown")
    await expect(countdown).to_have_text(re.compile(r"^1[45]:\d\d$"))
    first_reading = await countdown.text_content()
    await expect(countdown).not_to_have_text(first_reading or "", timeout=5000)  # it counts down
    await buyer.screenshot(path=screenshots / "order.png", full_page=True)

    await pay_with(buyer, "tok_visa")

    await expect(buyer.get_by_test_id("order-complete")).to_be_visible(timeout=15000)
    await expect(buyer.get_by_test_id("order-status")).to_have_text("complete")
    await buyer.screenshot(path=screenshots / "order-complete.png", full_page=True)
    await buyer.goto("/orders")
    await expect(buyer.get_by_test_id("order-row").filter(has_text=title)).to_be_visible()
    await buyer.screenshot(path=screenshots / "orders.png", full_page=True)
    await buyer.goto("/")
    await expect(buyer.get_by_test_id("ticket-row").filter(has_text=title)).to_have_count(0)


@pytest.mark.platform(expiration_window_seconds=8, expiration_worker=True)
async def test_a_declined_card_keeps_the_order_payable_until_it_expires(
    browser: Browser, site: str
) -> None:
    buyer = await order_page(browser, site, "Play", "15.00")

    await pay_with(buyer, "tok_chargeDeclined")

    await expect(buyer.get_by_test_id("form-errors")).to_contain_text("Your card was declined.")
    await expect(buyer.get_by_test_id("order-status")).to_have_text("created")
    await expect(buyer.get_by_test_id("pay-button")).to_be_visible()  # still payable
    # Unpaid, the order expires: the countdown reaches zero and the page says so.
    await expect(buyer.get_by_test_id("order-expired")).to_be_visible(timeout=30000)
    await expect(buyer.get_by_test_id("pay-button")).to_have_count(0)


@pytest.mark.platform(expiration_window_seconds=900)
async def test_a_card_needing_3d_secure_pays_only_after_the_buyer_authenticates(
    browser: Browser, site: str, screenshots: Path
) -> None:
    buyer = await order_page(browser, site, "Opera", "60.00")

    # Authentication fails: the card's message is shown and the order stays payable.
    await fail_authentication(buyer)
    await expect(buyer.get_by_test_id("order-status")).to_have_text("created")

    # Authentication completes: the order is paid like a direct charge.
    await pay_with(buyer, "tok_threeDSecure2Required")
    await expect(buyer.get_by_role("button", name="Complete")).to_be_visible()
    await buyer.screenshot(path=screenshots / "3d-secure.png", full_page=True)
    await buyer.get_by_role("button", name="Complete").click()

    await expect(buyer.get_by_test_id("order-complete")).to_be_visible(timeout=15000)
    await expect(buyer.get_by_test_id("order-status")).to_have_text("complete")


@pytest.mark.platform(expiration_window_seconds=900)
async def test_after_a_failed_3d_secure_another_card_pays(browser: Browser, site: str) -> None:
    buyer = await order_page(browser, site, "Ballet", "30.00")
    await fail_authentication(buyer)

    await pay_with(buyer, "tok_visa")

    await expect(buyer.get_by_test_id("order-complete")).to_be_visible(timeout=15000)
