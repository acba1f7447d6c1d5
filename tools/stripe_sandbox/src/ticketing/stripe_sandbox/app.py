"""The HTTP face of the sandbox: Stripe's v1 routes, its authentication and idempotent POSTs.

``create_app()`` builds the FastAPI app. Routes are thin: each authenticates like Stripe
(``Authorization: Bearer sk_test_...``), decodes the form-encoded body or query string into
``Params`` and hands them to the ``Ledger``. Every POST runs its idempotency lookup, the ledger
operation and the idempotency record under one ``asyncio.Lock``, so concurrent duplicates of a
keyed request charge once. Every failure, unknown URLs included, is rendered in Stripe's error
shape. ``/_sandbox/*`` is an unauthenticated inspection API for tests and the devstack.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Callable
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketing.stripe_sandbox.errors import (
    JsonDict,
    StripeApiError,
    authentication_failed,
    invalid_request,
)
from ticketing.stripe_sandbox.idempotency import IdempotencyStore, RecordedResponse
from ticketing.stripe_sandbox.ledger import Ledger
from ticketing.stripe_sandbox.objects import random_suffix
from ticketing.stripe_sandbox.params import Params, decode_pairs

Operation = Callable[[Params], JsonDict]

TEST_SECRET_KEY_PREFIX = "sk_test_"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). The Stripe "
    "sandbox accepts any test-mode secret key (sk_test_...)."
)
_PUBLISHABLE_KEY_MESSAGE = (
    "This API call cannot be made with a publishable API key. Please use a secret API key "
    "(sk_test_...)."
)


def create_app(ledger: Ledger | None = None) -> FastAPI:
    """The sandbox app; pass a ``Ledger`` to share or inspect its state in-process."""
    app = FastAPI(title="Stripe sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    sandbox = _Sandbox(ledger or Ledger())
    app.state.ledger = sandbox.ledger
    app.add_exception_handler(StarletteHTTPException, _unrecognized_url)

    @app.post("/v1/payment_intents")
    async def create_payment_intent(request: Request) -> Response:
        return await sandbox.post(request, sandbox.ledger.create_payment_intent)

    @app.get("/v1/payment_intents")
    async def list_payment_intents(request: Request) -> Response:
        return await sandbox.get(request, sandbox.ledger.list_payment_intents)

    @app.get("/v1/payment_intents/{intent_id}")
    async def retrieve_payment_intent(request: Request, intent_id: str) -> Response:
        return await sandbox.get(
            request, lambda params: sandbox.ledger.retrieve_payment_intent(intent_id, params)
        )

    @app.post("/v1/payment_intents/{intent_id}/confirm")
    async def confirm_payment_intent(request: Request, intent_id: str) -> Response:
        return await sandbox.post(
            request, lambda params: sandbox.ledger.confirm_payment_intent(intent_id, params)
        )

    @app.post("/v1/payment_intents/{intent_id}/cancel")
    async def cancel_payment_intent(request: Request, intent_id: str) -> Response:
        return await sandbox.post(
            request, lambda params: sandbox.ledger.cancel_payment_intent(intent_id, params)
        )

    @app.get("/v1/charges")
    async def list_charges(request: Request) -> Response:
        return await sandbox.get(request, sandbox.ledger.list_charges)

    @app.get("/v1/charges/{charge_id}")
    async def retrieve_charge(request: Request, charge_id: str) -> Response:
        return await sandbox.get(
            request, lambda params: sandbox.ledger.retrieve_charge(charge_id, params)
        )

    @app.post("/v1/refunds")
    async def create_refund(request: Request) -> Response:
        return await sandbox.post(request, sandbox.ledger.create_refund)

    @app.get("/v1/refunds")
    async def list_refunds(request: Request) -> Response:
        return await sandbox.get(request, sandbox.ledger.list_refunds)

    @app.get("/v1/refunds/{refund_id}")
    async def retrieve_refund(request: Request, refund_id: str) -> Response:
        return await sandbox.get(
            request, lambda params: sandbox.ledger.retrieve_refund(refund_id, params)
        )

    @app.get("/_sandbox/charges")
    async def sandbox_charges() -> JsonDict:
        return {"object": "list", "data": sandbox.ledger.successful_charges()}

    @app.post("/_sandbox/reset")
    async def sandbox_reset() -> JsonDict:
        await sandbox.reset()
        return {"reset": True}

    @app.get("/_sandbox/health")
    async def sandbox_health() -> JsonDict:
        return {"ok": True}

    return app


class _Sandbox:
    """The ledger plus what HTTP adds to it: the idempotency store and the state lock."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.idempotency = IdempotencyStore()
        self.lock = asyncio.Lock()

    async def reset(self) -> None:
        async with self.lock:
            self.ledger.reset()
            self.idempotency.clear()

    async def get(self, request: Request, operation: Operation) -> Response:
        request_id = _new_request_id()
        try:
            _authenticate(request.headers.get("authorization"))
            params = await _read_params(request)
        except StripeApiError as error:
            return _error_response(error, request_id)
        status_code, body = _run(operation, params)
        return _response(status_code, body, request_id)

    async def post(self, request: Request, operation: Operation) -> Response:
        request_id = _new_request_id()
        key = request.headers.get("idempotency-key") or None
        headers = {"Idempotency-Key": key} if key else {}
        try:
            _authenticate(request.headers.get("authorization"))
            params = await _read_params(request)
        except StripeApiError as error:
            return _error_response(error, request_id, headers)
        endpoint = f"{request.method} {request.url.path}"
        async with self.lock:
            if key is not None:
                try:
                    recorded = self.idempotency.lookup(key, endpoint, params.tree)
                except StripeApiError as error:
                    return _error_response(error, request_id, headers)
                if recorded is not None:
                    replay_headers = {
                        **headers,
                        "Idempotent-Replayed": "true",
                        "Original-Request": recorded.request_id,
                    }
                    return _response(
                        recorded.status_code, recorded.body, request_id, replay_headers
                    )
            status_code, body = _run(operation, params)
            if key is not None:
                self.idempotency.record(
                    key, endpoint, params.tree, RecordedResponse(status_code, body, request_id)
                )
        return _response(status_code, body, request_id, headers)


def _run(operation: Operation, params: Params) -> tuple[int, bytes]:
    try:
        return 200, _encode(operation(params))
    except StripeApiError as error:
        return error.http_status, _encode(error.to_body())


def _authenticate(authorization: str | None) -> None:
    """Stripe's key check: Bearer (as the SDK sends) or Basic with the key as the username."""
    if not authorization:
        raise authentication_failed(_NO_KEY_MESSAGE)
    scheme, _, credentials = authorization.strip().partition(" ")
    key = credentials.strip()
    if scheme.lower() == "basic":
        try:
            key = base64.b64decode(key, validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            raise authentication_failed(_NO_KEY_MESSAGE) from None
    elif scheme.lower() != "bearer":
        raise authentication_failed(_NO_KEY_MESSAGE)
    if not key:
        raise authentication_failed(_NO_KEY_MESSAGE)
    if key.startswith("pk_"):
        raise authentication_failed(_PUBLISHABLE_KEY_MESSAGE)
    if not key.startswith(TEST_SECRET_KEY_PREFIX) or key == TEST_SECRET_KEY_PREFIX:
        raise authentication_failed(f"Invalid API Key provided: {_redact(key)}")


def _redact(key: str) -> str:
    prefix, separator, secret = key.rpartition("_")
    if not separator:
        prefix, secret = "", key
    else:
        prefix += separator
    visible = secret[-4:] if len(secret) > 8 else ""
    return prefix + "*" * (len(secret) - len(visible)) + visible


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


def _new_request_id() -> str:
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


def _error_response(
    error: StripeApiError, request_id: str, headers: dict[str, str] | None = None
) -> Response:
    extra = dict(headers or {})
    if error.http_status == 401:
        extra["WWW-Authenticate"] = 'Basic realm="Stripe"'
    return _response(error.http_status, _encode(error.to_body()), request_id, extra)


async def _unrecognized_url(request: Request, exc: Exception) -> Response:
    status_code = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    if status_code not in (404, 405):
        return JSONResponse(
            {"error": {"type": "api_error", "message": str(exc)}}, status_code=status_code
        )
    message = (
        f"Unrecognized request URL ({request.method}: {request.url.path}). The Stripe sandbox "
        "implements PaymentIntents (create, retrieve, list, confirm, cancel), charges "
        "(retrieve, list) and refunds (create, retrieve, list)."
    )
    error = invalid_request(message, http_status=404)
    return _error_response(error, _new_request_id())
