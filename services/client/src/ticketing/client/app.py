"""The client, assembled: settings, the API client, CSRF, error pages, pages and static files.

Run it with ``uvicorn --factory ticketing.client.app:create_app``. Tests pass ``transport`` to
route the client's calls to in-process services.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketing.client.api_client import ApiClient
from ticketing.client.config import ClientSettings
from ticketing.client.csrf import CsrfTokens
from ticketing.client.health import upstreams
from ticketing.client.pages.auth import router as auth_pages
from ticketing.client.pages.orders import router as order_pages
from ticketing.client.pages.tickets import router as ticket_pages
from ticketing.client.rendering import install_error_pages
from ticketing.common.asgi import HttpMiddleware
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


class SecurityHeaders(HttpMiddleware):
    """The page's Content-Security-Policy (with a fresh script nonce, which the templates read
    from ``request.state.csp_nonce``) and the other security headers, unless a page set its
    own. Pure ASGI: ``app.middleware("http")`` ran every page through a task group and
    memory streams, more than the headers cost."""

    def __init__(self, app: ASGIApp, authentication_origin: str) -> None:
        super().__init__(app)
        self.authentication_origin = authentication_origin

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        policy = _content_security_policy(nonce, self.authentication_origin)
        defaults = (
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in defaults if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


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
    app.add_middleware(
        SecurityHeaders, authentication_origin=settings.payment_authentication_origin
    )
    app.include_router(health_router(upstreams(app)))
    app.include_router(auth_pages)
    app.include_router(ticket_pages)
    app.include_router(order_pages)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_http_observability(app, "client")  # request ids, traces, /metrics
    return app
