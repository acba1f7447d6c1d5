"""Who is looking: the browser's session, resolved by the auth service, once per request."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from ticketing.client.api_client import ApiClient, Session, get_api
from ticketing.client.schemas import User
from ticketing.common.auth import SESSION_COOKIE


class SignInRequiredError(Exception):
    """The page needs a signed-in user: answered with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


# The characters of a JWT (base64url and dots); a browser keeps no longer cookie.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_.-]{1,4096}")


def session_of(request: Request) -> Session:
    """The browser's session token; a cookie that cannot be one (non-ASCII, spaces, too long)
    means signed out: it is never forwarded (it would not even fit in an HTTP header)."""
    value = request.cookies.get(SESSION_COOKIE)
    return value if value is not None and _TOKEN_SHAPE.fullmatch(value) else None


async def session_cookie(request: Request) -> Session:
    """``session_of`` as a dependency (``async``: a plain one runs in the thread pool)."""
    return session_of(request)


async def viewer(request: Request, api: Annotated[ApiClient, Depends(get_api)]) -> User | None:
    user = await api.current_user(session_of(request))
    request.state.user = user  # error pages show the header of whoever is known by then
    return user


def _back_to(request: Request) -> str:
    """Where to return after signing in: this page, or for a form post the page it came from."""
    if request.method == "GET":
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return "/"
    return referer.path or "/"


async def signed_in(request: Request, user: Annotated[User | None, Depends(viewer)]) -> User:
    if user is None:
        raise SignInRequiredError(_back_to(request))
    return user


Viewer = Annotated[User | None, Depends(viewer)]
SignedIn = Annotated[User, Depends(signed_in)]
SessionCookie = Annotated[Session, Depends(session_cookie)]
Api = Annotated[ApiClient, Depends(get_api)]
