"""The request body limit of every HTTP process (DESIGN §3 "Bad input"): 413 before buffering.

A pure ASGI middleware, so it sees the body as the server hands it over, chunk by chunk: a
declared ``Content-Length`` over the limit is refused before the app runs, and a streamed body
is counted as it arrives and refused at the first byte over the limit. Nothing past the limit
is kept: once the 413 is sent, uvicorn discards the rest of the body as it arrives (the way
nginx's lingering close does), so the client, still sending, then reads a clean 413 instead of
a reset connection, and a 100 MB upload costs the process no more memory than the limit.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketing.common.asgi import HttpMiddleware
from ticketing.common.errors import PayloadTooLargeError

MAX_BODY_BYTES = 1024 * 1024
"""1 MiB, as the Ingress (``nginx.ingress.kubernetes.io/proxy-body-size: 1m``)."""

TOO_LARGE = PayloadTooLargeError.default_message


class BodyTooLargeError(Exception):
    """Raised to the app by ``receive`` at the first chunk over the limit."""


def _declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    return int(value) if value is not None and value.isdigit() else None


async def send_too_large(send: Send) -> None:
    """The contract's 413 ``{"errors": [{"message": "Request body is too large"}]}``."""
    body = json.dumps({"errors": [{"message": TOO_LARGE}]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware(HttpMiddleware):
    """Refuses request bodies over ``max_bytes`` with 413 ``"Request body is too large"``."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await send_too_large(send)
            return
        await _LimitedRequest(self.app, self.max_bytes)(scope, receive, send)


class _LimitedRequest:
    """One request under the limit. Once it is exceeded, whatever the app answers instead
    (FastAPI turns a failed body read into a 400) is replaced by the 413, unless the app
    itself answers 413 (the client renders it as an HTML page)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.received = 0
        self.exceeded = False
        self.passing_through = False  # the app's own response is being sent
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.max_bytes:
                    self.exceeded = True
                    raise BodyTooLargeError(TOO_LARGE)
            return message

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.passing_through = not self.exceeded or message["status"] == 413
            if self.passing_through:
                self.started = True
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLargeError:
            if not self.exceeded:
                raise
        if self.exceeded and not self.started:
            await send_too_large(send)


BUSY = "The service is busy, try again shortly"
BUSY_RETRY_AFTER_SECONDS = 1
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probes and scrapes are answered however busy the process is: a busy replica is not a dead one."""


async def send_busy(send: Send) -> None:
    """The contract's 503 ``{"errors": [{"message": BUSY}]}`` with ``Retry-After``."""
    body = json.dumps({"errors": [{"message": BUSY}]}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        (b"retry-after", b"%d" % BUSY_RETRY_AFTER_SECONDS),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AdmissionLimitMiddleware(HttpMiddleware):
    """Admission control: at most ``max_in_flight`` requests are being handled at once; one
    more is answered 503 + ``Retry-After`` at once, before it costs a database connection.

    Without it a burst (a flash sale: a thousand buyers in a second) queues whole inside the
    process, on the connection pool and the event loop, and *every* buyer waits seconds; with
    it the admitted ones are served at the speed of an unloaded service and the others learn
    within a millisecond to come back. Outermost, so a refused request reads no body.
    """

    def __init__(self, app: ASGIApp, max_in_flight: int) -> None:
        super().__init__(app)
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            await send_busy(send)
            return
        self.in_flight += 1  # one event loop: no lock needed between the check and this
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
