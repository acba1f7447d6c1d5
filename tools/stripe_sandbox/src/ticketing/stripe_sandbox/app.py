"""The HTTP face of the sandbox: the Stripe v1 routes payments uses, and ``/_sandbox/*``.

``create_app()`` builds the FastAPI app. Routes are thin: each hands the request and its ledger
operation to ``Sandbox`` (authentication, params, idempotency, webhooks). Every failure, unknown
URLs included, is rendered in Stripe's error shape.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketing.stripe_sandbox.control import control_routes
from ticketing.stripe_sandbox.errors import StripeApiError
from ticketing.stripe_sandbox.ledger import Ledger
from ticketing.stripe_sandbox.sandbox import Sandbox, site, unrecognized_url
from ticketing.stripe_sandbox.webhooks import WebhookDispatcher, webhook_endpoint_from


def create_app(
    ledger: Ledger | None = None,
    *,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
) -> FastAPI:
    """The sandbox app; pass a ``Ledger`` to share or inspect its state in-process, and a
    webhook URL and ``whsec_`` secret to deliver events there from the start (``ValueError``
    if they are not a URL and a signing secret)."""
    endpoint = None
    if webhook_url is not None or webhook_secret is not None:
        try:
            endpoint = webhook_endpoint_from(webhook_url, webhook_secret)
        except StripeApiError as error:
            raise ValueError(f"webhook endpoint: {error.message}") from None
    app = FastAPI(title="Stripe sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    sandbox = Sandbox(ledger or Ledger(), WebhookDispatcher(endpoint))
    app.state.sandbox = sandbox
    app.state.ledger = sandbox.ledger
    app.add_exception_handler(StarletteHTTPException, unrecognized_url)
    book = sandbox.ledger

    @app.post("/v1/payment_intents")
    async def create_payment_intent(request: Request) -> Response:
        url = site(request)
        return await sandbox.post(request, lambda p: book.create_payment_intent(p, url))

    @app.get("/v1/payment_intents/{intent_id}")
    async def retrieve_payment_intent(request: Request, intent_id: str) -> Response:
        return await sandbox.get(request, lambda p: book.retrieve_payment_intent(intent_id, p))

    @app.post("/v1/payment_intents/{intent_id}/confirm")
    async def confirm_payment_intent(request: Request, intent_id: str) -> Response:
        url = site(request)
        return await sandbox.post(request, lambda p: book.confirm_payment_intent(intent_id, p, url))

    @app.post("/v1/payment_intents/{intent_id}/cancel")
    async def cancel_payment_intent(request: Request, intent_id: str) -> Response:
        return await sandbox.post(request, lambda p: book.cancel_payment_intent(intent_id, p))

    @app.post("/v1/refunds")
    async def create_refund(request: Request) -> Response:
        return await sandbox.post(request, book.create_refund)

    app.include_router(control_routes(sandbox))
    return app
