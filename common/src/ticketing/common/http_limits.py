"""The request body limit of every HTTP process (DESIGN §3 "Bad input"): 413 before buffering.

A pure ASGI middleware, so it sees the body as the server hands it over, chunk by chunk: a
declared ``Content-Length`` over the limit is refused before the app runs, and a streamed body
is counted as it arrives and refused at the first byte over the limit. Nothing past the limit
is kept: once the 413 is sent, uvicorn discards the rest of the body as it arrives (the way
nginx's lingering close does), so the client, still sending, then reads a clean 413 instead of
a reset connection, and a 100 MB upload costs the process no more memory than the limit.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import deque

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
RETRY_AFTER_SECONDS = (1, 3)
"""A refused client is told to come back after 1 to 3 s, drawn per answer: a burst refused at
once does not come back as one herd a second later (which the process would refuse again,
paying for each refusal what it could have spent serving)."""
QUEUED_PER_SLOT = 8
"""How many requests may wait for a slot, per slot: with few slots (16 by default) the queue
takes a burst's first hundred-odd requests, which drain within the wait below, and refuses
the rest at once."""
QUEUE_WAIT_SECONDS = 1.0
"""The longest a request waits for a slot before it is refused after all."""
REFUSED_BUSY = "ticketing.refused_busy"
"""Set in the scope of a request refused here: the access log tallies those instead of writing
a line for each (``correlation.RefusalTally``)."""
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probes and scrapes are answered however busy the process is: a busy replica is not a dead one."""


async def send_busy(send: Send, retry_after: int = RETRY_AFTER_SECONDS[0]) -> None:
    """The contract's 503 ``{"errors": [{"message": BUSY}]}`` with ``Retry-After``."""
    body = json.dumps({"errors": [{"message": BUSY}]}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        (b"retry-after", b"%d" % retry_after),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AdmissionLimitMiddleware(HttpMiddleware):
    """Admission control: at most ``max_in_flight`` requests are being handled at once; the
    next ``max_queued`` wait for a slot, first come first served, for ``queue_wait_seconds``
    at most; any other is answered 503 + a jittered ``Retry-After`` at once, before it costs a
    database connection.

    Without it a burst (a flash sale: a thousand buyers in a second) queues whole inside the
    process, on the connection pool and the event loop, and *every* buyer waits seconds. With
    an immediate 503 only, the refused come back together and are mostly refused again: in a
    flash sale the orders process spent its time answering ~600 503s a second. A short queue
    hands each freed slot to the next waiting request at once (a waiting request costs nothing
    but its socket), and the refused come back spread over ``RETRY_AFTER_SECONDS``. Outermost
    of the app (inside the request id, the access log and the span), so a refused request
    reads no body and is still counted, logged and traced.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_in_flight: int,
        *,
        max_queued: int | None = None,
        queue_wait_seconds: float = QUEUE_WAIT_SECONDS,
    ) -> None:
        super().__init__(app)
        self.max_in_flight = max_in_flight
        self.max_queued = QUEUED_PER_SLOT * max_in_flight if max_queued is None else max_queued
        self.queue_wait_seconds = queue_wait_seconds
        self.in_flight = 0
        self._queue: deque[asyncio.Future[None]] = deque()  # each resolved with a slot

    @property
    def queued(self) -> int:
        """Requests waiting for a slot."""
        return len(self._queue)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        if not await self._admitted():
            scope[REFUSED_BUSY] = True
            await send_busy(send, random.randint(*RETRY_AFTER_SECONDS))  # jitter, not a secret
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._release()

    async def _admitted(self) -> bool:
        """Take a slot, now or after waiting in the queue; False if neither is possible."""
        if self.in_flight < self.max_in_flight:
            self.in_flight += 1  # one event loop: no lock needed between the check and this
            return True
        if len(self._queue) >= self.max_queued:
            return False
        slot = asyncio.get_running_loop().create_future()
        self._queue.append(slot)
        try:
            await asyncio.wait_for(asyncio.shield(slot), self.queue_wait_seconds)
        except TimeoutError:
            if slot.done():  # handed a slot in the very turn the wait ran out: keep it
                return True
            self._queue.remove(slot)
            return False
        except BaseException:  # the client went away (cancelled): pass a slot it got on
            if slot.done():
                self._release()
            else:
                self._queue.remove(slot)
            raise
        return True

    def _release(self) -> None:
        """A request finished: its slot goes to the oldest waiting request, or back."""
        while self._queue:
            slot = self._queue.popleft()
            if not slot.done():
                slot.set_result(None)  # in_flight unchanged: the slot changes hands
                return
        self.in_flight -= 1
