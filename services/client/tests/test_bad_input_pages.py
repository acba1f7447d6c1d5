"""Odd cookies, page cursors and bodies get a clear page, never a 500 (DESIGN §3 "Bad input")."""

import httpx
import pytest
from client_testing.browser import HTML, Browser

PAGES = ["/", "/auth/signin", "/auth/signup", "/tickets/new", "/orders", "/auth/signout"]
BAD_SESSIONS = [
    "caf\xc3\xa9".encode("latin-1"),  # UTF-8 bytes, as a browser sends a non-ASCII cookie
    b"\xff\xfe",
    b"not a token",
    b"a.b.c",
    b"x" * 5000,
]


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("session", BAD_SESSIONS, ids=["utf8", "latin1", "spaces", "abc", "long"])
async def test_a_malformed_session_cookie_means_signed_out(
    browser: Browser, path: str, session: bytes
) -> None:
    response = await browser.http.get(path, headers={"cookie": b"session=" + session})

    assert response.status_code in (200, 303), response.text
    if response.status_code == 303:  # a page for signed-in users sends to the sign-in form
        assert response.headers["location"].startswith("/auth/signin")
    else:
        assert 'data-testid="current-user"' not in response.text


@pytest.mark.parametrize("cursor", ["not-a-cursor", "", "\uff11", "x" * 5000])
async def test_a_cursor_that_is_not_ours_is_a_404_page(browser: Browser, cursor: str) -> None:
    response = await browser.http.get("/", params={"cursor": cursor})

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Page not found" in response.text


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
async def test_the_client_publishes_no_api_documentation(browser: Browser, path: str) -> None:
    response = await browser.get(path)

    assert response.status_code == 404


async def test_a_form_over_1_mib_is_refused_with_a_413(browser: Browser) -> None:
    big = {"email": "a@example.com", "password": "x" * (2 * 1024 * 1024)}

    response = await browser.http.post("/auth/signin", data=big, headers={"accept": HTML})

    assert response.status_code == 413
    assert "Request body is too large" in response.text


async def test_a_streamed_form_over_1_mib_is_a_413_page(
    browser: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    async def form() -> httpx.AsyncByteStream:  # type: ignore[misc]
        yield b"email=a%40example.com&password="
        for _ in range(40):
            yield b"x" * 65536

    response = await browser.http.post(
        "/auth/signin",
        content=form(),
        headers={"content-type": "application/x-www-form-urlencoded", "accept": HTML},
    )

    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "Request body is too large" in response.text
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # refused, not a failure
