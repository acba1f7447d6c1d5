"""Sign up, sign in, sign out: forms posting to the auth service, its session cookie relayed."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from ticketing.client.api_client import SetCookies, UpstreamError
from ticketing.client.csrf import VerifiedForm, verified_form
from ticketing.client.forms import FormErrors, safe_next, text
from ticketing.client.rendering import page
from ticketing.client.session import Api, SessionCookie, Viewer

router = APIRouter(prefix="/auth", tags=["auth pages"])

Mode = Literal["signup", "signin"]
FIELDS = ("email", "password")
NextUrl = Annotated[str | None, Query(alias="next")]


def _redirect_relaying(url: str, set_cookies: SetCookies) -> Response:
    response = RedirectResponse(url, status_code=303)
    for cookie in set_cookies:
        response.headers.append("set-cookie", cookie)
    return response


def _form(
    request: Request,
    mode: Mode,
    *,
    next_url: str,
    email: str = "",
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "auth/form.html",
        status_code=status_code,
        user=None,
        mode=mode,
        next_url=next_url,
        email=email,
        errors=errors or FormErrors(),
    )


async def _show(request: Request, mode: Mode, user: Viewer, next_url: str | None) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next_url), status_code=303)
    return _form(request, mode, next_url=safe_next(next_url))


async def _submit(request: Request, mode: Mode, form: VerifiedForm, api: Api) -> Response:
    email, password = text(form, "email"), text(form, "password")
    next_url = safe_next(text(form, "next"))
    try:
        if mode == "signup":
            set_cookies = await api.sign_up(email, password)
        else:
            set_cookies = await api.sign_in(email, password)
    except UpstreamError as exc:
        if exc.status_code != 400:
            raise
        errors = FormErrors.of(exc.errors, FIELDS)
        return _form(request, mode, next_url=next_url, email=email, errors=errors, status_code=400)
    return _redirect_relaying(next_url, set_cookies)


@router.get("/signup")
async def sign_up_page(request: Request, user: Viewer, next_url: NextUrl = None) -> Response:
    return await _show(request, "signup", user, next_url)


@router.post("/signup")
async def sign_up(request: Request, form: VerifiedForm, api: Api) -> Response:
    return await _submit(request, "signup", form, api)


@router.get("/signin")
async def sign_in_page(request: Request, user: Viewer, next_url: NextUrl = None) -> Response:
    return await _show(request, "signin", user, next_url)


@router.post("/signin")
async def sign_in(request: Request, form: VerifiedForm, api: Api) -> Response:
    return await _submit(request, "signin", form, api)


@router.get("/signout")
async def sign_out_page(request: Request, user: Viewer) -> Response:
    return page(request, "auth/signout.html", user=user)


@router.post("/signout", dependencies=[Depends(verified_form)])
async def sign_out(api: Api, session: SessionCookie) -> Response:
    return _redirect_relaying("/", await api.sign_out(session))
