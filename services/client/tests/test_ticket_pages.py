"""Tickets for sale, selling, a ticket's page and buying it (tickets, orders, query: the
contract_double)."""

import re
from datetime import timedelta
from uuid import uuid4

from client_testing.browser import Browser, BrowserFactory
from client_testing.contract_double import ContractDouble


async def test_home_lists_tickets_for_sale_with_price_and_link(
    browser: Browser, contract_double: ContractDouble
) -> None:
    ticket = contract_double.seed_ticket(uuid4(), "Jazz night", "19.99")
    contract_double.seed_order(
        uuid4(), contract_double.seed_ticket(uuid4(), "Gone"), expires_in=timedelta(minutes=1)
    )

    response = await browser.get("/")

    assert response.status_code == 200
    rows = re.findall(r'data-testid="ticket-row".*?</li>', response.text, re.S)
    assert len(rows) == 1
    assert "Jazz night" in rows[0] and "$19.99" in rows[0]
    assert f'href="/tickets/{ticket.id}"' in rows[0]


async def test_home_shows_who_is_signed_in_in_the_first_html(browser: Browser) -> None:
    email = await browser.sign_up()

    response = await browser.get("/")

    assert f'data-testid="current-user">{email}<' in response.text
    assert 'data-testid="sign-out"' in response.text


async def test_selling_needs_a_signed_in_user(browser: Browser) -> None:
    response = await browser.get("/tickets/new")

    assert response.status_code == 303
    assert response.headers["location"] == "/auth/signin?next=/tickets/new"


async def test_selling_a_ticket_redirects_to_its_page(
    browser: Browser, contract_double: ContractDouble
) -> None:
    await browser.sign_up()

    location = await browser.sell("Opera", "42.50")

    (ticket,) = contract_double.tickets.values()
    assert location == f"/tickets/{ticket.id}"
    assert ticket.user_id == browser.user_id
    page = await browser.get(location)
    assert 'data-testid="ticket-title">Opera<' in page.text
    assert "$42.50" in page.text


async def test_sell_form_shows_api_errors_next_to_their_fields_and_keeps_the_input(
    browser: Browser,
) -> None:
    await browser.sign_up()

    response = await browser.fill_in("/tickets/new", {"title": " ", "price": "-3"})

    assert response.status_code == 400
    assert 'data-field="title">Title must not be empty</p>' in response.text
    assert 'data-field="price">Price must be greater than 0</p>' in response.text
    assert 'id="price" name="price"' in response.text and 'value="-3"' in response.text


async def test_a_price_that_is_not_a_number_is_left_for_the_api_to_refuse(
    browser: Browser,
) -> None:
    await browser.sign_up()

    response = await browser.fill_in("/tickets/new", {"title": "Gig", "price": "ten"})

    assert 'data-field="price">Price must be a number</p>' in response.text
    assert 'value="Gig"' in response.text and 'value="ten"' in response.text


async def test_purchase_is_hidden_from_the_seller(browser: Browser) -> None:
    await browser.sign_up()
    location = await browser.sell()

    page = await browser.get(location)

    assert 'data-testid="seller-note"' in page.text
    assert 'data-testid="purchase-button"' not in page.text


async def test_purchase_is_hidden_when_the_ticket_is_reserved(
    browser: Browser, contract_double: ContractDouble
) -> None:
    ticket = contract_double.seed_ticket(uuid4())
    contract_double.seed_order(uuid4(), ticket, expires_in=timedelta(minutes=1))
    await browser.sign_up()

    page = await browser.get(f"/tickets/{ticket.id}")

    assert 'data-testid="ticket-status">reserved<' in page.text
    assert 'data-testid="purchase-button"' not in page.text


async def test_a_signed_out_visitor_is_invited_to_sign_in_to_purchase(
    browser: Browser, contract_double: ContractDouble
) -> None:
    ticket = contract_double.seed_ticket(uuid4())

    page = await browser.get(f"/tickets/{ticket.id}")

    assert f'href="/auth/signin?next=/tickets/{ticket.id}"' in page.text
    assert 'data-testid="purchase-button"' not in page.text


async def test_purchasing_places_an_order_and_redirects_to_it(
    new_browser: BrowserFactory, contract_double: ContractDouble
) -> None:
    seller, buyer = new_browser(), new_browser()
    await seller.sign_up()
    ticket_page = await seller.sell("Final", "80")
    await buyer.sign_up()

    response = await buyer.submit(ticket_page, f"{ticket_page}/purchase")

    (order,) = contract_double.orders.values()
    assert response.status_code == 303
    assert response.headers["location"] == f"/orders/{order.id}"
    assert order.user_id == buyer.user_id


async def test_a_purchase_refused_by_orders_is_shown_on_the_ticket_page(
    new_browser: BrowserFactory, contract_double: ContractDouble
) -> None:
    first, second = new_browser(), new_browser()
    page = f"/tickets/{contract_double.seed_ticket(uuid4()).id}"
    await first.sign_up()
    await second.sign_up()
    await first.submit(page, f"{page}/purchase")

    response = await second.submit(page, f"{page}/purchase")  # a tab opened before

    assert response.status_code == 400
    assert '<li data-testid="form-error">Ticket is already reserved</li>' in response.text


async def test_an_unknown_or_malformed_ticket_is_a_404_page(browser: Browser) -> None:
    for path in (f"/tickets/{uuid4()}", "/tickets/not-an-id"):
        response = await browser.get(path)

        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "Page not found" in response.text


async def test_older_tickets_are_a_page_further_and_newest_leads_back(
    browser: Browser, contract_double: ContractDouble
) -> None:
    seeded = {str(contract_double.seed_ticket(uuid4(), f"Seat {n}").id) for n in range(21)}

    first = await browser.get("/")
    older = re.search(r'href="(/\?cursor=[^"]+)" rel="next"', first.text)
    assert older is not None, "the first page links to the older tickets"
    second = await browser.get(older[1].replace("&amp;", "&"))

    shown = [re.findall(r'data-ticket-id="([^"]+)"', page.text) for page in (first, second)]
    assert [len(ids) for ids in shown] == [20, 1]
    assert set(shown[0]) | set(shown[1]) == seeded
    assert 'rel="next"' not in second.text
    assert 'href="/" rel="first"' in second.text
