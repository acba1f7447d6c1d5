"""What the observability tests read: every service's log lines as the JSON a collector
would read, and a purchase made through the SSR client under one caller's request id."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from ticketing.common.logs import formatter
from ticketing.testkit.http import eventually

Line = dict[str, Any]
HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


class JsonLines(logging.Handler):
    """Every record of the process, rendered by the services' own JSON formatter."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(formatter("json"))
        self.lines: list[Line] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def services_with(self, request_id: str) -> set[str]:
        return {line["service"] for line in self.lines if line.get("request_id") == request_id}


@dataclass
class Purchase:
    """The pages a buyer went through on the client, each sent with ``request_id``."""

    request_id: str
    order_page: str
    answers: list[httpx.Response] = field(default_factory=list)


async def submit(
    site: httpx.AsyncClient, page: str, action: str, fields: dict[str, str], request_id: str
) -> httpx.Response:
    """Open ``page``, then post its form to ``action``, both as the caller ``request_id``."""
    headers = {"accept": HTML, "x-request-id": request_id}
    found = _CSRF_INPUT.search((await site.get(page, headers=headers)).text)
    assert found, f"{page} has no form"
    data = {"csrf_token": found.group(1), **fields}
    return await site.post(action, data=data, headers=headers)


async def buy_through_the_client(
    site: httpx.AsyncClient, ticket_id: str, request_id: str, *, pay: bool = True
) -> Purchase:
    """Purchase the ticket on its page (once orders knows it), then pay with a test card."""
    ticket_page = f"/tickets/{ticket_id}"

    async def purchased() -> httpx.Response:
        answer = await submit(site, ticket_page, f"{ticket_page}/purchase", {}, request_id)
        assert answer.status_code == 303, "orders has not heard of the ticket yet"
        return answer

    ordered = await eventually(purchased)
    purchase = Purchase(request_id, ordered.headers["location"], [ordered])
    if pay:

        async def paid() -> httpx.Response:
            page = purchase.order_page
            answer = await submit(site, page, f"{page}/pay", {"token": "tok_visa"}, request_id)
            assert answer.status_code == 303, "payments has not heard of the order yet"
            return answer

        purchase.answers.append(await eventually(paid))
    return purchase
