"""Error pages for browsers, contract JSON for API callers, and the probes."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from client_testing.browser import Browser
from client_testing.contract_double import ContractDouble
from starlette.responses import JSONResponse

from ticketing.client.app import create_app
from ticketing.client.config import ClientSettings
from ticketing.testkit.http import RoutedTransport


class Unreachable(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)


async def test_an_unknown_page_is_an_html_404_for_a_browser(browser: Browser) -> None:
    response = await browser.get("/no/such/page")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert 'data-testid="error-page" data-status="404"' in response.text


async def test_an_unknown_page_is_contract_json_for_an_api_caller(browser: Browser) -> None:
    response = await browser.http.get("/no/such/page", headers={"accept": "application/json"})

    assert response.status_code == 404
    assert response.json() == {"errors": [{"message": "Not found"}]}


async def test_healthz_answers_while_the_process_runs(browser: Browser) -> None:
    response = await browser.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_when_every_upstream_answers(browser: Browser) -> None:
    response = await browser.get("/readyz")

    assert response.status_code == 200, response.text


@pytest.fixture
async def stranded(client_settings: ClientSettings) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose services are all unreachable."""
    async with LifespanManager(create_app(client_settings, Unreachable())) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield http


async def test_readyz_names_the_unreachable_services(stranded: httpx.AsyncClient) -> None:
    response = await stranded.get("/readyz")

    assert response.status_code == 503
    messages = [error["message"] for error in response.json()["errors"]]
    assert "The auth service is not reachable" in messages
    assert "The query service is not reachable" in messages


async def test_an_unreachable_service_is_a_503_page(stranded: httpx.AsyncClient) -> None:
    response = await stranded.get("/", headers={"accept": "text/html"})

    assert response.status_code == 503
    assert "The query service is not reachable" in response.text
    assert response.headers["content-type"].startswith("text/html")


async def test_a_failing_service_is_a_502_page(
    client_settings: ClientSettings, contract_double: ContractDouble
) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    routes = {"/api/query": broken, "/": contract_double.app()}
    async with LifespanManager(create_app(client_settings, RoutedTransport(routes))) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/", headers={"accept": "text/html"})

    assert response.status_code == 502
    assert "Something went wrong" in response.text


async def test_an_unexpected_failure_is_a_500_page_without_a_traceback(
    client_settings: ClientSettings,
) -> None:
    async def nonsense(scope: Any, receive: Any, send: Any) -> None:
        await JSONResponse({"items": "not a list"})(scope, receive, send)

    routes = {"/api/query": nonsense}
    async with LifespanManager(create_app(client_settings, RoutedTransport(routes))) as manager:
        transport = httpx.ASGITransport(manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/", headers={"accept": "text/html"})

    assert response.status_code == 500
    assert 'data-testid="error-message">Something went wrong<' in response.text
    assert "Traceback" not in response.text and "ValidationError" not in response.text
