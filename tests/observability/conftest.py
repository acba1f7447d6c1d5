"""Fixtures of the observability tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from observability.capture import JsonLines

if TYPE_CHECKING:
    from platform_testing import Platform


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    """Every line logged at INFO or above while the test runs, rendered as in production."""
    root = logging.getLogger()
    handler, level = JsonLines(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
async def ticket_on_sale(platform: Platform, client_site: httpx.AsyncClient) -> dict[str, Any]:
    """A ticket someone sells, and the client's site signed in as a buyer who may buy it."""
    seller, buyer = await platform.sign_up(), await platform.sign_up()
    ticket = await seller.sell()
    client_site.cookies.set("session", buyer.http.cookies["session"])
    return ticket
