"""CSRF protection for every form POST: a signed double-submit token.

A GET that renders a form makes sure the browser holds a ``csrftoken`` cookie and puts the
same token in a hidden ``csrf_token`` input. A POST passes only if the field equals the cookie
and the token carries a valid HMAC of our secret: another site can neither read the cookie
nor forge a token it could plant. Otherwise the answer is a 403 page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from ticketing.common.errors import ForbiddenError

CSRF_COOKIE = "csrftoken"
CSRF_FIELD = "csrf_token"
CSRF_COOKIE_MAX_AGE = 7 * 24 * 3600


class CsrfError(ForbiddenError):
    default_message = (
        "This form has expired or was not sent from this site. "
        "Go back, reload the page and try again."
    )


class CsrfTokens:
    """Issues and checks tokens of the form ``<random>.<hmac(secret, random)>``."""

    def __init__(self, secret: str, *, secure_cookie: bool) -> None:
        self._key = secret.encode()
        self._secure_cookie = secure_cookie

    def _signature(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()

    def issue(self) -> str:
        nonce = secrets.token_urlsafe(32)
        return f"{nonce}.{self._signature(nonce)}"

    def is_genuine(self, token: str) -> bool:
        nonce, _, signature = token.partition(".")
        return bool(nonce) and hmac.compare_digest(
            signature.encode(), self._signature(nonce).encode()
        )

    def token_for(self, request: Request) -> tuple[str, bool]:
        """The browser's token if it is genuine, else a new one (True: set the cookie)."""
        current = request.cookies.get(CSRF_COOKIE, "")
        if current.isascii() and self.is_genuine(current):
            return current, False
        return self.issue(), True

    def set_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            max_age=CSRF_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=self._secure_cookie,
            path="/",
        )

    def check(self, cookie: str | None, submitted: object) -> None:
        if not (cookie and isinstance(submitted, str)):
            raise CsrfError()
        if not (cookie.isascii() and submitted.isascii()):
            raise CsrfError()
        if not hmac.compare_digest(cookie.encode(), submitted.encode()):
            raise CsrfError()
        if not self.is_genuine(cookie):
            raise CsrfError()


def csrf_tokens(request: Request) -> CsrfTokens:
    tokens: CsrfTokens = request.app.state.csrf
    return tokens


async def verified_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matched the cookie; a 403 otherwise."""
    form = await request.form()
    csrf_tokens(request).check(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD))
    return form


VerifiedForm = Annotated[FormData, Depends(verified_form)]
