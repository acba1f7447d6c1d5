"""Every form POST needs the signed double-submit CSRF token, else a 403 page."""

import pytest
from client_testing.browser import PASSWORD, Browser, csrf_token_in, new_email

from ticketing.client.csrf import CSRF_COOKIE, CsrfTokens


async def test_the_first_page_sets_the_csrf_cookie_and_puts_it_in_its_forms(
    browser: Browser,
) -> None:
    response = await browser.get("/auth/signin")

    cookie = response.headers["set-cookie"].lower()
    assert (
        cookie.startswith(f"{CSRF_COOKIE}=") and "httponly" in cookie and "samesite=lax" in cookie
    )
    assert csrf_token_in(response.text) == browser.http.cookies[CSRF_COOKIE]


async def test_the_token_is_kept_across_pages(browser: Browser) -> None:
    first = csrf_token_in((await browser.get("/auth/signin")).text)

    again = await browser.get("/auth/signup")

    assert csrf_token_in(again.text) == first
    assert "set-cookie" not in again.headers


async def test_a_form_post_without_a_token_is_refused_with_a_403_page(browser: Browser) -> None:
    await browser.get("/auth/signup")

    response = await browser.http.post(
        "/auth/signup", data={"email": new_email(), "password": PASSWORD}
    )

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "This form has expired or was not sent from this site" in response.text
    assert "session=" not in response.headers.get("set-cookie", "")


async def test_a_form_post_with_another_token_than_the_cookie_is_refused(
    browser: Browser,
) -> None:
    await browser.get("/auth/signup")
    other = CsrfTokens("test-csrf-secret-of-at-least-32-characters", secure_cookie=False).issue()

    response = await browser.http.post(
        "/auth/signup", data={"csrf_token": other, "email": new_email(), "password": PASSWORD}
    )

    assert response.status_code == 403


@pytest.mark.parametrize("forged", ["made-up", "made-up.0000", ""])
async def test_a_forged_token_planted_in_both_cookie_and_form_is_refused(
    browser: Browser, forged: str
) -> None:
    browser.http.cookies.set(CSRF_COOKIE, forged)

    response = await browser.http.post("/auth/signout", data={"csrf_token": forged})

    assert response.status_code == 403


async def test_a_forged_cookie_is_replaced_by_a_genuine_token_on_the_next_page(
    browser: Browser,
) -> None:
    browser.http.cookies.set(CSRF_COOKIE, "made-up.0000")

    response = await browser.get("/auth/signin")

    assert csrf_token_in(response.text) != "made-up.0000"
    assert response.headers["set-cookie"].startswith(f"{CSRF_COOKIE}=")


def test_tokens_are_genuine_only_under_their_own_secret() -> None:
    ours = CsrfTokens("a" * 32, secure_cookie=True)
    theirs = CsrfTokens("b" * 32, secure_cookie=True)

    assert ours.is_genuine(ours.issue())
    assert not ours.is_genuine(theirs.issue())
