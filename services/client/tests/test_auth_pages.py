"""Sign up, sign in and sign out through the forms, against the real auth service."""

import pytest
from client_testing.browser import PASSWORD, Browser, BrowserFactory, new_email


@pytest.fixture
async def member(new_browser: BrowserFactory) -> str:
    """The email of someone who signed up before, in a browser of their own: the test's
    ``browser`` has no session of theirs."""
    return await new_browser().sign_up()


async def test_signed_out_header_offers_sign_in_and_sign_up(browser: Browser) -> None:
    response = await browser.get("/")

    assert response.status_code == 200
    assert 'data-testid="sign-in-link"' in response.text
    assert 'data-testid="sign-up-link"' in response.text
    assert 'data-testid="current-user"' not in response.text


async def test_signing_up_redirects_home_and_relays_the_session_cookie(browser: Browser) -> None:
    email = new_email()

    response = await browser.fill_in("/auth/signup", {"email": email, "password": PASSWORD})

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    home = await browser.get("/")
    assert f'data-testid="current-user">{email}<' in home.text


async def test_signing_in_relays_the_session_cookie_and_returns_to_next(
    browser: Browser, member: str
) -> None:
    response = await browser.submit(
        "/auth/signin?next=/orders",
        "/auth/signin",
        {"email": member, "password": PASSWORD, "next": "/orders"},
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/orders"
    assert "session=" in response.headers["set-cookie"]
    assert f'data-testid="current-user">{member}<' in (await browser.get("/orders")).text


async def test_sign_in_form_carries_the_page_to_return_to(browser: Browser) -> None:
    response = await browser.get("/auth/signin?next=/tickets/new")

    assert 'name="next" value="/tickets/new"' in response.text


async def test_next_never_leads_off_site(browser: Browser, member: str) -> None:
    response = await browser.fill_in(
        "/auth/signin",
        {"email": member, "password": PASSWORD, "next": "//evil.example/phish"},
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_invalid_email_is_shown_next_to_the_email_field_and_kept(browser: Browser) -> None:
    response = await browser.fill_in(
        "/auth/signup", {"email": "not-an-email", "password": PASSWORD}
    )

    assert response.status_code == 400
    assert (
        '<p class="field-error" id="email-error" data-testid="form-error" data-field="email">'
        "Email must be a valid email address</p>"
    ) in response.text
    assert 'value="not-an-email"' in response.text
    assert PASSWORD not in response.text


async def test_short_password_is_shown_next_to_the_password_field(browser: Browser) -> None:
    response = await browser.fill_in("/auth/signup", {"email": new_email(), "password": "short"})

    assert response.status_code == 400
    assert 'data-field="password">Password must be between 8 and 128 characters' in response.text


async def test_wrong_password_is_shown_at_the_top_of_the_form(
    browser: Browser, member: str
) -> None:
    response = await browser.fill_in(
        "/auth/signin", {"email": member, "password": "wrong password"}
    )

    assert response.status_code == 400
    assert '<li data-testid="form-error">Invalid credentials</li>' in response.text
    assert f'value="{member}"' in response.text
    assert "session=" not in response.headers.get("set-cookie", "")


async def test_signing_out_clears_the_session(browser: Browser) -> None:
    email = await browser.sign_up()

    response = await browser.submit("/auth/signout", "/auth/signout")

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert 'session=""' in response.headers["set-cookie"] or "max-age=0" in (
        response.headers["set-cookie"].lower()
    )
    assert email not in (await browser.get("/")).text


async def test_a_signed_in_user_visiting_sign_in_is_sent_on(browser: Browser) -> None:
    await browser.sign_up()

    response = await browser.get("/auth/signin?next=/orders")

    assert response.status_code == 303
    assert response.headers["location"] == "/orders"
