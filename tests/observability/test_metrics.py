"""``GET /metrics`` on every service (DESIGN §10): scraped and parsed as Prometheus would,
after a purchase, the figures an operator watches have moved.

The services of one test process share one registry (each figure is labelled with its
service), and other tests count too: each test compares a scrape after with one before."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from ticketing.testkit.http import TEST_PASSWORD, eventually

if TYPE_CHECKING:
    from platform_testing import Platform

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]
AN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-|/[0-9a-f]{32}")


async def scrape(app: FastAPI) -> Samples:
    """Every sample ``app``'s ``/metrics`` serves, parsed by prometheus_client's own parser."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.platform(expiration_worker=True)
async def test_a_purchase_moves_the_http_event_and_expiration_figures(platform: Platform) -> None:
    before = await scrape(platform.apps["orders"])
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    ticket = await seller.sell()
    order = await platform.payable_order(buyer, ticket["id"])
    paid = await buyer.pay(order["id"])
    assert paid.status_code == 201, paid.text
    await eventually(lambda: buyer.order_status_is(order["id"], "complete"))

    async def figures_moved() -> None:
        after = await scrape(platform.apps["tickets"])  # any service: one registry here

        def moved(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        created = {"service": "orders", "method": "POST", "route": "/api/orders"}
        assert moved("ticketing_http_request_duration_seconds_count", **created, status="201")
        assert moved("ticketing_events_published_total", service="orders", type="order.created")
        for service in ("tickets", "payments", "query", "expiration"):
            assert moved("ticketing_events_handled_total", service=service, type="order.created")
        assert moved("ticketing_events_handled_total", service="orders", type="payment.created")
        assert moved("ticketing_expiration_jobs_scheduled_total") >= 1

    await eventually(figures_moved, timeout=20)


async def test_latency_is_counted_by_route_template_never_by_raw_path(platform: Platform) -> None:
    async with platform.browser() as http:
        for _ in range(3):
            await http.get(f"/api/tickets/{'0' * 8}-0000-4000-8000-{'0' * 12}")

    samples = await scrape(platform.apps["tickets"])

    template = {"service": "tickets", "method": "GET", "route": "/api/tickets/{ticket_id}"}
    assert value(samples, "ticketing_http_request_duration_seconds_count", **template, status="404")
    routes = {dict(labels).get("route", "") for _, labels in samples}
    assert [route for route in routes if AN_ID.search(route)] == []


async def test_backlogs_and_stream_sizes_are_sampled(
    platform: Platform, bus_namespace: str
) -> None:
    seller = await platform.sign_up()
    await seller.sell()

    async def sampled() -> None:
        samples = await scrape(platform.apps["orders"])
        for service in ("auth", "tickets", "orders", "payments", "query"):
            assert ("ticketing_outbox_backlog", (("service", service),)) in samples
            assert ("ticketing_outbox_oldest_unpublished_age_seconds", (("service", service),)) in (
                samples
            )
        for service in ("tickets", "orders", "payments", "query"):
            assert ("ticketing_consumer_pending_messages", (("service", service),)) in samples
            assert ("ticketing_consumer_ack_pending_messages", (("service", service),)) in samples
        stream = bus_namespace.upper()
        assert value(samples, "ticketing_stream_bytes", stream=stream) > 0
        assert value(samples, "ticketing_stream_max_bytes", stream=stream) > 0
        assert ("ticketing_stream_messages", (("stream", f"{stream}_DLQ"),)) in samples
        for state in ("owed", "parked"):
            assert ("ticketing_payments_refunds", (("state", state),)) in samples

    await eventually(sampled, timeout=20)


async def test_sign_ins_refused_by_the_throttle_are_counted(platform: Platform) -> None:
    buyer = await platform.sign_up()
    before = await scrape(platform.apps["auth"])
    wrong = {"email": buyer.email, "password": TEST_PASSWORD + "!"}
    async with platform.browser() as http:
        answers = [(await http.post("/api/users/signin", json=wrong)).status_code for _ in range(6)]

    after = await scrape(platform.apps["auth"])

    assert answers == [400] * 5 + [429]
    name = "ticketing_auth_sign_ins_throttled_total"
    assert value(after, name) - value(before, name) == 1


async def test_metrics_stay_out_of_the_api_documents(platform: Platform) -> None:
    for name, app in platform.apps.items():
        assert "/metrics" not in app.openapi()["paths"], name
