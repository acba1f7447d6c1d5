"""One purchase can be followed across every service by one request id (DESIGN §10): the id
a caller gives as ``X-Request-ID`` comes back on the answer, goes from the client to the APIs,
into the outbox rows, the NATS headers and every handler, and on with what they publish."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import uuid4

import httpx
import pytest

from observability.capture import JsonLines, buy_through_the_client
from ticketing.testkit.http import eventually

if TYPE_CHECKING:
    from platform_testing import Platform

EVERY_SERVICE_OF_A_PURCHASE = {"client", "orders", "tickets", "payments", "expiration", "query"}


@pytest.mark.platform(expiration_worker=True)
async def test_a_callers_request_id_is_in_the_logs_of_every_service_of_a_purchase(
    client_site: httpx.AsyncClient, ticket_on_sale: dict[str, Any], json_logs: JsonLines
) -> None:
    request_id = f"purchase-{uuid4().hex}"

    purchase = await buy_through_the_client(client_site, ticket_on_sale["id"], request_id)

    assert {answer.headers["x-request-id"] for answer in purchase.answers} == {request_id}

    async def every_service_logged_it() -> None:
        assert json_logs.services_with(request_id) >= EVERY_SERVICE_OF_A_PURCHASE

    await eventually(every_service_logged_it, timeout=20)


@pytest.mark.platform(expiration_worker=True, expiration_window_seconds=1)
async def test_an_expiry_minutes_later_still_carries_the_request_id_of_the_order(
    client_site: httpx.AsyncClient, ticket_on_sale: dict[str, Any], json_logs: JsonLines
) -> None:
    request_id = f"order-{uuid4().hex}"

    await buy_through_the_client(client_site, ticket_on_sale["id"], request_id, pay=False)

    def lines(service: str, text: str) -> list[str]:
        return [
            line["message"]
            for line in json_logs.lines
            if (line["service"], line.get("request_id")) == (service, request_id)
            and text in line["message"]
        ]

    async def expired_under_that_id() -> None:
        assert lines("expiration", "expired")  # the arq job, seconds after the request
        assert lines("orders", "handled expiration.complete")

    await eventually(expired_under_that_id, timeout=20)


async def test_every_answer_carries_a_request_id_made_or_given(platform: Platform) -> None:
    async with platform.browser() as http:
        made = await http.get(f"/api/tickets/{uuid4()}")
        given = await http.get("/api/orders", headers={"x-request-id": "caller-42"})
        unfit = await http.get("/api/users/currentuser", headers={"x-request-id": "no\tgood"})

    assert made.status_code == 404 and len(made.headers["x-request-id"]) == 32
    assert (given.status_code, given.headers["x-request-id"]) == (401, "caller-42")
    assert unfit.headers["x-request-id"] not in ("no\tgood", "")
