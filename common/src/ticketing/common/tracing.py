"""OpenTelemetry traces: one tracer provider per service, context carried over HTTP and NATS.

``tracer_provider(service)`` is that service's provider, made once per process and name (the
tests run every service in one process, each still naming its own spans). It always makes
spans and trace ids (logs carry ``trace_id``; ``traceparent`` travels on), but it **records
and exports nothing unless someone listens**: an OTLP/HTTP exporter when the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set (and
``OTEL_TRACES_EXPORTER`` is not ``none``), or a processor a test added with
``add_span_processor``. Nothing here sets OpenTelemetry's global provider, so setting up twice,
or once per service in one process, is harmless; a test's processor can be removed again.

Instrumented: every ASGI app (server spans; ``traced_asgi``), httpx clients (``instrument_client``),
SQLAlchemy engines (``instrument_engine``), Redis clients (``instrument_redis``); and by hand
(``correlation``), a producer span around each publish and a consumer span around each handled
event, linked through the ``traceparent`` NATS header.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.metrics import get_meter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine

EXCLUDED_URLS = "/healthz,/readyz,/metrics"
"""Probes and scrapes: frequent, and of no interest in a trace."""

_providers: dict[str, TracerProvider] = {}
_tracers: dict[str, trace.Tracer] = {}
_listeners: list[SpanProcessor] = []


def exporting() -> bool:
    """Whether the standard OTEL_* variables ask for an OTLP exporter."""
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp") == "none":
        return False
    return any(
        os.environ.get(name)
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


class _WhenListenedTo(Sampler):
    """Record a new trace only when something receives spans (an exporter, a test)."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        decision = Decision.RECORD_AND_SAMPLE if _listeners else Decision.DROP
        return SamplingResult(decision, attributes if _listeners else None, trace_state)

    def get_description(self) -> str:
        return "WhenListenedTo"


def tracer_provider(service: str) -> TracerProvider:
    """The service's provider (made on first use, then the same one)."""
    provider = _providers.get(service)
    if provider is None:
        provider = TracerProvider(
            resource=Resource.create({"service.name": service}),
            sampler=ParentBased(root=_WhenListenedTo()),
        )
        provider.add_span_processor(_FANOUT)
        _providers[service] = provider
        if exporting() and not any(isinstance(p, _Exporting) for p in _listeners):
            add_span_processor(_Exporting.from_environment())
    return provider


def tracer(service: str) -> trace.Tracer:
    """The service's tracer, made once: ``get_tracer`` builds a new one on every call (16 to
    21 µs, paid by every request and every event handled)."""
    made = _tracers.get(service)
    if made is None:
        made = _tracers[service] = tracer_provider(service).get_tracer("ticketing")
    return made


def add_span_processor(processor: SpanProcessor) -> None:
    """Send every service's spans, from now on, to ``processor`` too (exporter, tests)."""
    _listeners.append(processor)


def remove_span_processor(processor: SpanProcessor) -> None:
    """Stop sending spans to ``processor``; with no listener left, traces are not recorded."""
    _listeners.remove(processor)


class _Fanout(SpanProcessor):
    """The one processor of every provider: it hands spans to the listeners of the moment
    (an SDK provider cannot drop a processor once added; a test's must go when it ends)."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for listener in list(_listeners):
            listener.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for listener in list(_listeners):
            listener.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(listener.force_flush(timeout_millis) for listener in list(_listeners))


_FANOUT = _Fanout()


class _Exporting(SpanProcessor):
    """The OTLP/HTTP exporter the OTEL_* variables configure, batched."""

    def __init__(self, inner: SpanProcessor) -> None:
        self._inner = inner

    @classmethod
    def from_environment(cls) -> _Exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        return cls(BatchSpanProcessor(OTLPSpanExporter()))

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self._inner.on_end(span)

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def traced_asgi(app: ASGIApp, service: str) -> ASGIApp:
    """Server spans for every request but probes and scrapes, continuing a ``traceparent``;
    named by route template once routing found it (``"GET /api/orders/{order_id}"``).

    The ASGI middleware itself, not ``FastAPIInstrumentor``: that one refuses a middleware
    stack it did not expect, and ours starts with the body limit (``http_limits``)."""
    return OpenTelemetryMiddleware(
        _NamedByRoute(app),
        excluded_urls=EXCLUDED_URLS,
        tracer_provider=tracer_provider(service),
        exclude_spans=["receive", "send"],
    )


class _NamedByRoute:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        span = trace.get_current_span()  # the server span (it ends with the response's body)

        async def named_at_answer(message: Message) -> None:
            route = getattr(scope.get("route"), "path_format", None)
            if message["type"] == "http.response.start" and isinstance(route, str):
                span.update_name(f"{scope['method']} {route}")
            await send(message)

        await self.app(scope, receive, named_at_answer if scope["type"] == "http" else send)


def instrument_client(client: httpx.AsyncClient, service: str) -> None:
    """Client spans for the calls of ``client``, each sending its ``traceparent``. Imported
    here: only the client calls other services, and httpx (with the command line it loads,
    click, rich and pygments where they are installed) is ~5 MiB of every process that
    imports it."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=tracer_provider(service))


def instrument_engine(engine: AsyncEngine, service: str) -> None:
    """A span per SQL statement of ``engine``, while something listens. SQLAlchemy's tracer
    would still make, and then drop, a span per statement while no one receives spans, its
    attributes read from the connection each time: so it is skipped then. Imported here:
    the instrumentation imports SQLAlchemy, which a process without a database (the
    expiration worker, the client) need not load."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    class EngineTracerWhenListenedTo(EngineTracer):
        def _before_cur_exec(self, *args: object) -> object:
            if not _listeners:
                _, _, statement, params, *_ = args
                return statement, params
            return super()._before_cur_exec(*args)  # type: ignore[no-untyped-call]

    connections = get_meter("ticketing").create_up_down_counter("db.client.connections.usage")
    EngineTracerWhenListenedTo(tracer(service), engine.sync_engine, connections)  # type: ignore[no-untyped-call]


def instrument_redis(client: object, service: str) -> None:
    """A span per Redis command of ``client`` (a redis-py client, e.g. arq's pool). Imported
    here: the instrumentation imports redis, which only the expiration worker installs."""
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor.instrument_client(client, tracer_provider=tracer_provider(service))  # type: ignore[arg-type]
