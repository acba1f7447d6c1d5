"""The sandbox's state (ledger, idempotency keys, webhooks) and how one v1 request runs.

Every request is authenticated like Stripe's and its query string or form-encoded body decoded
into ``Params``. Every POST runs its idempotency lookup, the ledger operation and the
idempotency record under one ``asyncio.Lock`` (ledger operations never await), so concurrent
duplicates of a keyed request charge once: the later ones wait, then replay. The events an
operation records go to webhook delivery once the response has been sent. Every failure is
rendered in Stripe's error shape with a ``Request-Id``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import Response
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketing.stripe_sandbox.auth import authenticate
from ticketing.stripe_sandbox.errors import JsonDict, StripeApiError, invalid_request
from ticketing.stripe_sandbox.idempotency import IdempotencyStore, RecordedResponse
from ticketing.stripe_sandbox.ledger import Ledger
from ticketing.stripe_sandbox.objects import random_suffix
from ticketing.stripe_sandbox.params import Params, decode_pairs
from ticketing.stripe_sandbox.webhooks import WebhookDispatcher

Operation = Callable[[Params], JsonDict]
T = TypeVar("T")

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class Sandbox:
    """The ledger plus what HTTP adds to it: idempotency, the state lock and webhooks."""

    def __init__(self, ledger: Ledger, webhooks: WebhookDispatcher) -> None:
        self.ledger = ledger
        self.webhooks = webhooks
        self.idempotency = IdempotencyStore()
        self.lock = asyncio.Lock()

    async def reset(self) -> None:
        async with self.lock:
            self.ledger.reset()
            self.idempotency.clear()
            self.webhooks.reset()

    async def change(self, action: Callable[[], T]) -> tuple[T, BackgroundTask | None]:
        """Run a state change outside the v1 API (the 3-D Secure page) under the lock."""
        async with self.lock:
            try:
                result = action()
            finally:
                events = self.ledger.take_events()
        return result, self._delivery(events)

    async def get(self, request: Request, operation: Operation) -> Response:
        request_id = new_request_id()
        try:
            authenticate(request.headers.get("authorization"))
            params = await _read_params(request)
        except StripeApiError as error:
            return error_response(error, request_id)
        status_code, body = _run(operation, params)
        return _response(status_code, body, request_id)

    async def post(self, request: Request, operation: Operation) -> Response:
        request_id = new_request_id()
        key = request.headers.get("idempotency-key") or None
        headers = {"Idempotency-Key": key} if key else {}
        try:
            authenticate(request.headers.get("authorization"))
            params = await _read_params(request)
        except StripeApiError as error:
            return error_response(error, request_id, headers)
        endpoint = f"{request.method} {request.url.path}"
        async with self.lock:
            if key is not None:
                try:
                    recorded = self.idempotency.lookup(key, endpoint, params.tree)
                except StripeApiError as error:
                    return error_response(error, request_id, headers)
                if recorded is not None:
                    replayed = {
                        **headers,
                        "Idempotent-Replayed": "true",
                        "Original-Request": recorded.request_id,
                    }
                    return _response(recorded.status_code, recorded.body, request_id, replayed)
            status_code, body = _run(operation, params)
            events = self.ledger.take_events()
            if key is not None:
                self.idempotency.record(
                    key, endpoint, params.tree, RecordedResponse(status_code, body, request_id)
                )
        for event in events:
            event["request"] = {"id": request_id, "idempotency_key": key}
        response = _response(status_code, body, request_id, headers)
        response.background = self._delivery(events)
        return response

    def _delivery(self, events: list[JsonDict]) -> BackgroundTask | None:
        return BackgroundTask(self.webhooks.dispatch, events) if events else None


def site(request: Request) -> str:
    """The sandbox's base URL as the client reached it (for links back to the sandbox)."""
    return str(request.base_url).rstrip("/")


def _run(operation: Operation, params: Params) -> tuple[int, bytes]:
    try:
        return 200, _encode(operation(params))
    except StripeApiError as error:
        return error.http_status, _encode(error.to_body())


async def _read_params(request: Request) -> Params:
    """Query-string params, plus the form-encoded body of a POST."""
    pairs = list(request.query_params.multi_items())
    body = await request.body()
    if body:
        content_type = request.headers.get("content-type", "").partition(";")[0].strip()
        if content_type.lower() not in (FORM_CONTENT_TYPE, ""):
            raise invalid_request(
                f"Invalid request: Stripe's v1 API takes {FORM_CONTENT_TYPE} bodies, "
                f"not {content_type}."
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_request("Invalid request: the body is not valid UTF-8.") from None
        pairs += parse_qsl(text, keep_blank_values=True)
    return Params(decode_pairs(pairs))


def new_request_id() -> str:
    return f"req_{random_suffix(14)}"


def _encode(body: JsonDict) -> bytes:
    return json.dumps(body, indent=2).encode("utf-8")


def _response(
    status_code: int, body: bytes, request_id: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        content=body,
        status_code=status_code,
        media_type="application/json",
        headers={"Request-Id": request_id, **(headers or {})},
    )


def error_response(
    error: StripeApiError, request_id: str, headers: dict[str, str] | None = None
) -> Response:
    extra = dict(headers or {})
    if error.http_status == 401:
        extra["WWW-Authenticate"] = 'Basic realm="Stripe"'
    return _response(error.http_status, _encode(error.to_body()), request_id, extra)


async def unrecognized_url(request: Request, exc: Exception) -> Response:
    """Stripe's answer to a URL it does not serve (and the shape of any other HTTP error)."""
    status_code = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    if status_code not in (404, 405):
        error = StripeApiError(status_code, "api_error", str(exc))
        return error_response(error, new_request_id())
    message = (
        f"Unrecognized request URL ({request.method}: {request.url.path}). The Stripe sandbox "
        "implements PaymentIntents (create, retrieve, confirm, cancel) and refunds (create)."
    )
    return error_response(invalid_request(message, http_status=404), new_request_id())
