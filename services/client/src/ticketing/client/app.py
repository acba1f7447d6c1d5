"""The client, assembled: settings, the API client, CSRF, error pages, pages and static files.

Run it with ``uvicorn --factory ticketing.client.app:create_app``. Tests pass ``transport`` to
route the client's calls to in-process services.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from ticketing.client.api_client import ApiClient
from ticketing.client.config import ClientSettings
from ticketing.client.csrf import CsrfTokens
from ticketing.client.health import upstreams
from ticketing.client.pages.auth import router as auth_pages
from ticketing.client.pages.orders import router as order_pages
from ticketing.client.pages.tickets import router as ticket_pages
from ticketing.client.rendering import install_error_pages
from ticketing.common.correlation import install_http_observability
from ticketing.common.health import health_router
from ticketing.common.heap import freeze_startup_heap
from ticketing.common.logs import configure_logging

STATIC_DIR = Path(__file__).parent / "static"
STRIPE_JS = "https://js.stripe.com"


def _csrf_secret(settings: ClientSettings) -> str:
    if settings.csrf_secret is not None:
        return settings.csrf_secret.get_secret_value()
    # Development and test only (production requires one): forms of a restarted process
    # fail their CSRF check once, and a reload fixes them.
    return secrets.token_urlsafe(32)


def _content_security_policy(nonce: str, authentication_origin: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}' {STRIPE_JS}",
            f"frame-src {STRIPE_JS} https://hooks.stripe.com",
            "connect-src 'self' https://api.stripe.com",
            "img-src 'self' data:",
            "style-src 'self' 'unsafe-inline'",  # Stripe.js styles its mount point inline
            "object-src 'none'",
            "base-uri 'none'",
            # the pay form may be redirected to the card's 3-D Secure page
            f"form-action 'self' {authentication_origin}",
            "frame-ancestors 'none'",
        ]
    )


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    request.state.csp_nonce = secrets.token_urlsafe(16)
    response = await call_next(request)
    origin = request.app.state.settings.payment_authentication_origin
    response.headers.setdefault(
        "content-security-policy", _content_security_policy(request.state.csp_nonce, origin)
    )
    response.headers.setdefault("x-content-type-options", "nosniff")
    response.headers.setdefault("referrer-policy", "same-origin")
    return response


def create_app(
    settings: ClientSettings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    configure_logging("client")
    settings = settings or ClientSettings()  # from the environment

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.api = ApiClient(settings, transport)
        freeze_startup_heap()
        try:
            yield
        finally:
            await app.state.api.aclose()

    # No /docs, /redoc nor /openapi.json: at "/" of the site they would pass for the
    # platform's API documentation, and the client's pages are no API.
    app = FastAPI(
        title="Ticketing client", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.csrf = CsrfTokens(_csrf_secret(settings), secure_cookie=settings.cookie_secure)
    install_error_pages(app, max_body_bytes=settings.max_body_bytes)
    app.middleware("http")(_security_headers)
    app.include_router(health_router(upstreams(app)))
    app.include_router(auth_pages)
    app.include_router(ticket_pages)
    app.include_router(order_pages)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_http_observability(app, "client")  # request ids, traces, /metrics
    return app
