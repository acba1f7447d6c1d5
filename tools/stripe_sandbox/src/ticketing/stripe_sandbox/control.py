"""``/_sandbox/*``: what Stripe's dashboard and test pages are to test mode, for tests and dev.

Unauthenticated and JSON (the 3-D Secure page is HTML): inspect the charges, reset the account,
point webhooks at an endpoint and watch their deliveries, make an intent's refunds fail, and the
authentication page buyers are redirected to. Errors use Stripe's shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from ticketing.stripe_sandbox.errors import JsonDict, StripeApiError, invalid_request
from ticketing.stripe_sandbox.objects import PaymentIntent
from ticketing.stripe_sandbox.sandbox import Sandbox, error_response, new_request_id
from ticketing.stripe_sandbox.three_d_secure import (
    authentication_page,
    message_page,
    redirect_status,
    return_location,
)
from ticketing.stripe_sandbox.webhooks import WebhookEndpoint, webhook_endpoint_from


def control_routes(sandbox: Sandbox) -> APIRouter:
    router = APIRouter(prefix="/_sandbox")

    @router.get("/health")
    async def health() -> JsonDict:
        return {"ok": True}

    @router.post("/reset")
    async def reset() -> JsonDict:
        await sandbox.reset()
        return {"reset": True}

    @router.get("/charges")
    async def charges() -> JsonDict:
        return {"object": "list", "data": sandbox.ledger.successful_charges()}

    @router.get("/webhooks")
    async def webhook_endpoint() -> JsonDict:
        return _endpoint_json(sandbox.webhooks.endpoint)

    @router.post("/webhooks", response_model=None)
    async def configure_webhooks(request: Request) -> JsonDict | Response:
        try:
            body = await _json_object(request)
            endpoint = webhook_endpoint_from(body.get("url"), body.get("secret"))
        except StripeApiError as error:
            return error_response(error, new_request_id())
        sandbox.webhooks.endpoint = endpoint
        return _endpoint_json(endpoint)

    @router.delete("/webhooks")
    async def stop_webhooks() -> JsonDict:
        sandbox.webhooks.endpoint = None
        return _endpoint_json(None)

    @router.get("/webhooks/deliveries")
    async def deliveries() -> JsonDict:
        return {"object": "list", "data": sandbox.webhooks.deliveries()}

    @router.post("/refund_failures", response_model=None)
    async def fail_refunds(request: Request) -> JsonDict | Response:
        try:
            intent_id = (await _json_object(request)).get("payment_intent")
            if not isinstance(intent_id, str) or not intent_id:
                raise invalid_request("payment_intent must be a PaymentIntent id.")
            await sandbox.change(lambda: sandbox.ledger.fail_refunds_of(intent_id))
        except StripeApiError as error:
            return error_response(error, new_request_id())
        return {"payment_intent": intent_id, "refunds": "fail"}

    @router.delete("/refund_failures/{intent_id}")
    async def allow_refunds(intent_id: str) -> JsonDict:
        sandbox.ledger.refund_failures.discard(intent_id)
        return {"payment_intent": intent_id, "refunds": "succeed"}

    @router.get("/3ds/{intent_id}")
    async def authentication(intent_id: str) -> Response:
        try:
            intent = sandbox.ledger.awaiting_authentication(intent_id)
        except StripeApiError as error:
            return _page_error(error)
        return HTMLResponse(authentication_page(intent))

    @router.post("/3ds/{intent_id}/complete")
    async def complete(intent_id: str) -> Response:
        return await _authenticated(lambda: sandbox.ledger.complete_authentication(intent_id))

    @router.post("/3ds/{intent_id}/fail")
    async def fail(intent_id: str) -> Response:
        return await _authenticated(lambda: sandbox.ledger.fail_authentication(intent_id))

    async def _authenticated(outcome: Callable[[], PaymentIntent]) -> Response:
        try:
            intent, delivery = await sandbox.change(outcome)
        except StripeApiError as error:
            return _page_error(error)
        return _back_to_merchant(intent, delivery)

    return router


def _endpoint_json(endpoint: WebhookEndpoint | None) -> JsonDict:
    return {"url": endpoint.url if endpoint else None, "enabled": endpoint is not None}


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise invalid_request("The body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise invalid_request("The body must be a JSON object.")
    return body


def _page_error(error: StripeApiError) -> Response:
    return HTMLResponse(
        message_page("Nothing to authenticate", error.message), status_code=error.http_status
    )


def _back_to_merchant(intent: PaymentIntent, delivery: BackgroundTask | None) -> Response:
    location = return_location(intent)
    if location is not None:
        return RedirectResponse(location, status_code=303, background=delivery)
    status = redirect_status(intent)
    return HTMLResponse(
        message_page(f"Authentication {status}", f"PaymentIntent {intent.id} is {intent.status}."),
        background=delivery,
    )
