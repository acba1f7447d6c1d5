"""Who is looking: the browser's session, resolved by the auth service, once per request."""

from __future__ import annotations

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


def session_of(request: Request) -> Session:
    return request.cookies.get(SESSION_COOKIE)


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
SessionCookie = Annotated[Session, Depends(session_of)]
Api = Annotated[ApiClient, Depends(get_api)]
