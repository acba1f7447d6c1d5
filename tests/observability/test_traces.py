"""One purchase is one trace (DESIGN §10): the W3C trace context goes from the client's page
to orders over HTTP, into the outbox row, over NATS to every consumer, and on with the expiry
job, so the spans of client, orders, tickets, payments, expiration and query share a trace id.
Spans are taken by the SDK's in-memory exporter, attached for this test only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from observability.capture import buy_through_the_client
from ticketing.common import tracing
from ticketing.testkit.http import eventually

if TYPE_CHECKING:
    from platform_testing import Platform

EVERY_SERVICE_OF_AN_ORDER = {"client", "orders", "tickets", "payments", "expiration", "query"}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    tracing.add_span_processor(processor)
    try:
        yield exporter
    finally:
        tracing.remove_span_processor(processor)


def service_of(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


def trace_of_the_purchase(finished: tuple[ReadableSpan, ...], ticket_id: str) -> int:
    [page] = [
        span
        for span in finished
        if service_of(span) == "client"
        and span.name == "POST /tickets/{ticket_id}/purchase"
        and span.attributes is not None
        and ticket_id in str(span.attributes.get("url.path", span.attributes.get("http.target")))
        and span.parent is None
    ][-1:]
    assert page.context is not None
    return page.context.trace_id


@pytest.mark.platform(expiration_worker=True)
async def test_one_order_is_one_trace_across_every_service(
    client_site: httpx.AsyncClient, ticket_on_sale: dict[str, Any], spans: InMemorySpanExporter
) -> None:

    await buy_through_the_client(
        client_site, ticket_on_sale["id"], f"traced-{uuid4().hex}", pay=False
    )

    async def every_service_joined_the_trace() -> None:
        finished = spans.get_finished_spans()
        trace_id = trace_of_the_purchase(finished, ticket_on_sale["id"])
        in_trace = [span for span in finished if span.context and span.context.trace_id == trace_id]
        assert {service_of(span) for span in in_trace} >= EVERY_SERVICE_OF_AN_ORDER
        names = {(service_of(span), span.name) for span in in_trace}
        assert ("orders", "POST /api/orders") in names  # over HTTP, from the client's call
        assert any(s == "orders" and n.startswith("publish ") for s, n in names)  # the relay
        for service in ("tickets", "payments", "expiration", "query"):
            assert (service, "process order.created") in names

    await eventually(every_service_joined_the_trace, timeout=20)


async def test_without_a_listener_nothing_is_recorded(platform: Platform) -> None:
    async with platform.browser() as http:
        answer = await http.get(f"/api/tickets/{uuid4()}")

    span = tracing.tracer("tickets").start_span("probe")
    assert answer.status_code == 404
    assert not span.is_recording() and span.get_span_context().is_valid  # ids, no recording
