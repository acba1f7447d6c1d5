"""A scripted browser for the client's tests: its own cookies, reads forms, posts them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID, uuid4

import httpx
import jwt

from ticketing.common.auth import SESSION_COOKIE

PASSWORD = "correct horse battery"
HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def new_email() -> str:
    return f"fan-{uuid4().hex[:8]}@example.com"


def csrf_token_in(html: str) -> str:
    found = _CSRF_INPUT.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Browser:
    http: httpx.AsyncClient

    @classmethod
    def on(cls, transport: httpx.AsyncBaseTransport) -> Browser:
        return cls(
            httpx.AsyncClient(
                transport=transport, base_url="http://testserver", headers={"accept": HTML}
            )
        )

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path)

    async def submit(
        self, page: str, action: str, fields: dict[str, str] | None = None
    ) -> httpx.Response:
        """Open ``page``, then post its form to ``action`` with ``fields`` (and its token)."""
        token = csrf_token_in((await self.get(page)).text)
        return await self.http.post(action, data={"csrf_token": token, **(fields or {})})

    async def fill_in(self, page: str, fields: dict[str, str]) -> httpx.Response:
        """Open ``page`` and post its form back to it (a form whose action is its own page)."""
        return await self.submit(page, page, fields)

    async def sign_up(self, email: str | None = None) -> str:
        email = email or new_email()
        fields = {"email": email, "password": PASSWORD}
        response = await self.fill_in("/auth/signup", fields)
        assert response.status_code == 303, response.text
        return email

    @property
    def user_id(self) -> UUID:
        token = self.http.cookies[SESSION_COOKIE]
        return UUID(jwt.decode(token, options={"verify_signature": False})["sub"])

    async def sell(self, title: str = "Concert", price: str = "25") -> str:
        fields = {"title": title, "price": price}
        response = await self.fill_in("/tickets/new", fields)
        assert response.status_code == 303, response.text
        return response.headers["location"]

    async def aclose(self) -> None:
        await self.http.aclose()


BrowserFactory = Callable[[], Browser]
