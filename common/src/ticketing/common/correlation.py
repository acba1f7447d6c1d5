"""Following one purchase everywhere: the request id and trace context, over HTTP and NATS.

**HTTP.** ``ObservedHttp`` (outermost on every app, ``install_http_observability``) accepts a
caller's ``X-Request-ID`` (or makes one), returns it on every response (errors and 500s too),
binds ``service`` and ``request_id`` for every line logged while the request runs, times the
request by route template and status, and logs it (the access log: uvicorn's own is muted by
``logs``, this one knows the route, the duration and the request id). Requests refused by
admission control are timed and counted like the others but logged as a tally, one line a
second while they last (``RefusalTally``). A service calling
another sends ``outgoing_headers()``: the request id and the W3C ``traceparent``.

**Events.** A unit of work stores ``outgoing_headers()`` with each outbox row; the relay sends
them as NATS headers of the message, under a producer span (``publishing``); the consumer
continues them for the handler (``handling``): its log lines carry the originating request id,
the event id and type, its spans join the trace, and what it publishes carries both on.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from uuid import uuid4

import structlog
from fastapi import FastAPI
from opentelemetry import propagate
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketing.common import metrics, tracing
from ticketing.common.asgi import HttpMiddleware
from ticketing.common.http_limits import REFUSED_BUSY
from ticketing.common.logs import bound_context

REQUEST_ID_HEADER = "X-Request-ID"
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probes and scrapes: timed, not logged (a kubelet probes every few seconds)."""
access_logger = logging.getLogger("ticketing.http")
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")
"""What a caller's id may look like: printable, short, safe in a log line and a header."""


def accepted_request_id(value: str | None) -> str:
    """The caller's id if it is a sane one, else a new one."""
    if value is not None and _ACCEPTABLE_ID.fullmatch(value):
        return value
    return uuid4().hex


def current_request_id() -> str | None:
    request_id = bound_context().get("request_id")
    return request_id if isinstance(request_id, str) else None


def outgoing_headers() -> dict[str, str]:
    """The request id and trace context of this moment, for a call or a message it causes."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    if (request_id := current_request_id()) is not None:
        headers[REQUEST_ID_HEADER] = request_id
    return headers


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else metrics.UNMATCHED_ROUTE


class RefusalTally:
    """Requests refused busy, logged as one line per ``window`` while they last: "N requests
    refused busy". A refusal exists to be cheap, and a line per refusal was not: in a flash
    sale the orders process refused ~950 buyers in a second or two, and writing their access
    lines was about a quarter of its time then, time the buyers it had admitted waited for
    (two sales each way: first answers p99 2.46 / 2.33 s with them, 2.21 / 2.25 s with the
    tally; benchmarks/analysis.md fix 15). Each refused request is still timed
    and counted by route and status (``/metrics``), and its caller has its ``X-Request-ID``."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self.count = 0

    def note(self) -> None:
        if self.count == 0:  # the first of a window: its line is written when it closes
            asyncio.get_running_loop().call_later(self.window, self._flush)
        self.count += 1

    def _flush(self) -> None:
        count, self.count = self.count, 0
        access_logger.info(
            "%d requests refused busy in the last %g s",
            count,
            self.window,
            extra={"status": 503, "refused": count},
        )


class ObservedHttp(HttpMiddleware):
    """ASGI middleware: request id in and out, log context, latency by route template."""

    def __init__(self, app: ASGIApp, service: str, *, refusals: RefusalTally | None = None) -> None:
        super().__init__(app)
        self.service = service
        self.refusals = refusals or RefusalTally()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope.get("headers") or []).get(b"x-request-id")
        request_id = accepted_request_id(given.decode("latin-1") if given else None)
        status = 500  # what the caller gets if the app raises before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        with structlog.contextvars.bound_contextvars(service=self.service, request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route = _route_template(scope)
                metrics.observe_request(self.service, scope["method"], route, status, elapsed)
                if scope.get(REFUSED_BUSY):
                    self.refusals.note()
                elif route not in QUIET_ROUTES:
                    access_logger.info(
                        "%s %s %s",
                        scope["method"],
                        scope["path"],  # without the query string: it may carry anything
                        status,
                        extra={"route": route, "status": status, "duration_ms": elapsed * 1000},
                    )


def install_http_observability(app: FastAPI, service: str) -> None:
    """Traces, request ids, log context and ``/metrics`` on ``app``; call once, after routes
    may still be added. The request-id middleware goes outside everything (errors included),
    tracing just inside it, so the server span sees the request's log context."""
    build = app.build_middleware_stack

    def observed_stack() -> ASGIApp:
        return ObservedHttp(tracing.traced_asgi(build(), service), service)

    app.build_middleware_stack = observed_stack  # type: ignore[method-assign]
    app.include_router(metrics.metrics_router())


@contextmanager
def publishing(service: str, subject: str, headers: dict[str, str]) -> Iterator[None]:
    """A producer span for one publish, child of the context ``headers`` carry (the outbox
    row's) or else of the current one; ``headers`` then carry the producer span's own."""
    parent = propagate.extract(headers) if "traceparent" in headers else None
    with tracing.tracer(service).start_as_current_span(
        f"publish {subject}",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "nats", "messaging.destination.name": subject},
    ):
        propagate.inject(headers)
        yield


@contextmanager
def continuing(
    service: str,
    headers: Mapping[str, str] | None,
    span: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    **fields: str,
) -> Iterator[None]:
    """Work caused elsewhere (an event, a scheduled job), in the context ``headers`` carry:
    their request id and ``fields`` in every line, a span continuing their trace. A
    failure is recorded on the span and goes on up."""
    carried = dict(headers or {})
    with (
        structlog.contextvars.bound_contextvars(
            service=service, request_id=carried.get(REQUEST_ID_HEADER), **fields
        ),
        tracing.tracer(service).start_as_current_span(
            span, context=propagate.extract(carried), kind=kind
        ),
    ):
        yield


def handling(
    service: str, event_id: object, event_type: str, headers: Mapping[str, str] | None
) -> AbstractContextManager[None]:
    """The context of a consumer handling one event: the message's request id and trace,
    the event's id and type."""
    return continuing(
        service,
        headers,
        f"process {event_type}",
        kind=SpanKind.CONSUMER,
        event_id=str(event_id),
        event_type=event_type,
    )
