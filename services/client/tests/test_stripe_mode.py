"""With a Stripe publishable key, the order page pays through Stripe.js's card element."""

from datetime import timedelta
from uuid import uuid4

import pytest
from client_testing.browser import Browser
from client_testing.contract_double import ContractDouble

from ticketing.client.config import ClientSettings


@pytest.fixture
def client_settings(client_settings: ClientSettings) -> ClientSettings:
    return client_settings.model_copy(update={"stripe_publishable_key": "pk_test_client"})


async def test_the_order_page_mounts_stripes_card_element_instead_of_test_cards(
    browser: Browser, contract_double: ContractDouble
) -> None:
    await browser.sign_up()
    ticket = contract_double.seed_ticket(uuid4())
    order = contract_double.seed_order(browser.user_id, ticket, expires_in=timedelta(minutes=5))

    response = await browser.get(f"/orders/{order.id}")

    assert '<script src="https://js.stripe.com/v3/"></script>' in response.text
    assert 'data-stripe-key="pk_test_client"' in response.text
    assert 'id="card-element"' in response.text
    assert "tok_visa" not in response.text


async def test_other_pages_load_no_external_script(browser: Browser) -> None:
    response = await browser.get("/")

    assert "js.stripe.com/v3" not in response.text
