"""Turning page data into HTML: the templates, their shared context and the error pages.

Every HTML page gets the viewer (header), a CSRF token for its forms (the cookie is set when
new), the CSP nonce of its inline script, and the Stripe key when payments use Stripe.js.
Errors are negotiated: ``Accept: application/json`` keeps the contract's JSON errors, a
browser gets the same status with a readable page.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from ticketing.client.csrf import csrf_tokens
from ticketing.client.forms import sign_in_url
from ticketing.client.session import SignInRequiredError
from ticketing.common.http_errors import install_error_handlers

TEMPLATES_DIR = Path(__file__).parent / "templates"
JsonHandler = Callable[[Request, Any], Response | Awaitable[Response]]
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


def format_price(amount: Decimal) -> str:
    return f"${amount:,.2f}"


templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.trim_blocks = templates.env.lstrip_blocks = True
templates.env.filters["price"] = format_price
templates.env.auto_reload = False  # the templates ship with the package: no stat per render


def page(request: Request, template: str, *, status_code: int = 200, **context: Any) -> Response:
    """Render ``template``; ``context`` must carry ``user`` (the viewer, or None)."""
    tokens = csrf_tokens(request)
    token, fresh = tokens.token_for(request)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "csrf_token": token,
            "csp_nonce": getattr(request.state, "csp_nonce", ""),
            "stripe_key": request.app.state.settings.stripe_publishable_key,
            **context,
        },
        status_code=status_code,
    )
    if fresh:
        tokens.set_cookie(response, token)
    return response


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return not ("application/json" in accept and "text/html" not in accept)


def _negotiated(json_handler: JsonHandler) -> ErrorHandler:
    async def handler(request: Request, exc: Exception) -> Response:
        answer = json_handler(request, exc)
        response = await answer if inspect.isawaitable(answer) else answer
        if not wants_html(request) or not isinstance(response, JSONResponse):
            return response
        errors = json.loads(bytes(response.body))["errors"]
        html = page(
            request,
            "error.html",
            status_code=response.status_code,
            user=getattr(request.state, "user", None),
            status=response.status_code,
            messages=[error["message"] for error in errors],
        )
        for key, value in response.headers.items():
            if key.lower() not in ("content-type", "content-length"):
                html.headers[key] = value
        return html

    return handler


async def _to_sign_in(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequiredError)
    return RedirectResponse(sign_in_url(exc.next_url), status_code=303)


def install_error_pages(app: FastAPI, *, max_body_bytes: int) -> None:
    """The platform's JSON error handlers (and body limit), each answering browsers with an
    HTML page."""
    install_error_handlers(app, max_body_bytes=max_body_bytes)
    for key, json_handler in list(app.exception_handlers.items()):
        app.add_exception_handler(key, _negotiated(json_handler))
    app.add_exception_handler(SignInRequiredError, _to_sign_in)
