"""``make dev-metrics`` and the gateway's ``/dev/metrics``: the figures of every process of a
running platform, summed over a service's replicas, with the processes that do not answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from ticketing.devstack.gateway import create_gateway
from ticketing.devstack.metricspage import as_table, summarise

if TYPE_CHECKING:
    from platform_testing import Platform


async def metrics_text(platform: Platform, service: str) -> str:
    transport = httpx.ASGITransport(app=platform.apps[service])
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as http:
        return (await http.get("/metrics")).text


async def test_replicas_figures_add_up_and_a_silent_process_is_shown_down(
    platform: Platform,
) -> None:
    seller = await platform.sign_up()
    await seller.sell()
    text = await metrics_text(platform, "tickets")
    one = summarise({"tickets": text})["services"]["tickets"]  # type: ignore[index]

    both = summarise({"tickets": text, "tickets-2": text, "expiration": None})

    assert one["requests"] >= 1  # the sale, at least
    assert both["services"]["tickets"]["requests"] == 2 * one["requests"]  # type: ignore[index]
    assert both["services"]["tickets"]["outbox backlog"] == one["outbox backlog"]  # type: ignore[index]
    assert both["down"] == ["expiration"]
    assert "not answering: expiration" in as_table(both)


async def test_the_gateway_serves_the_summary_page_and_json() -> None:
    gateway = create_gateway({}, [], metrics={"orders": "http://127.0.0.1:9"})  # nobody there
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        summary = (await http.get("/dev/metrics.json")).json()
        page = await http.get("/dev/metrics")

    assert summary == {"services": {}, "platform": {}, "down": ["orders"]}
    assert page.status_code == 200 and "not answering: orders" in page.text
