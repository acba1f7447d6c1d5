"""The browser tests' fixtures: the platform in-process, the SSR client on a real port, and
Chromium driven by Playwright (async API, so it shares pytest-asyncio's loop).

Chromium is Debian's ``/usr/bin/chromium`` when present (``.ci/run`` installs it; Playwright
cannot download its own browser here), otherwise Playwright's own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, async_playwright
from playwright.async_api import Error as PlaywrightError

from ticketing.client.app import create_app as create_client_app
from ticketing.client.config import ClientSettings
from ticketing.testkit.embedded import free_port

REPO = Path(__file__).resolve().parents[2]
SITE_PORT = free_port()
SITE_URL = f"http://127.0.0.1:{SITE_PORT}"
"""Chosen before the platform starts, so payments sends 3-D Secure buyers back to the site."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test's platform returns buyers from 3-D Secure to the site under test."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            marker = item.get_closest_marker("platform")
            options = {**(marker.kwargs if marker else {}), "client_url": SITE_URL}
            item.add_marker(pytest.mark.platform(**options), append=False)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=chromium, args=CHROMIUM_ARGS, headless=True
            )
        except PlaywrightError as exc:
            pytest.fail(
                "No browser for the browser tests: install Debian's Chromium "
                "(`apt-get install -y chromium`, as .ci/run does) or Playwright's own "
                f"(`uv run --all-packages playwright install chromium`).\n{exc}"
            )
        yield browser
        await browser.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where pages are photographed: docs/screenshots with SCREENSHOTS=1 (make screenshots)."""
    if os.environ.get("SCREENSHOTS") == "1":
        target = REPO / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        return target
    return tmp_path


@pytest.fixture
async def site(platform: object, stripe_sandbox: str) -> AsyncIterator[str]:
    """The SSR client on a real loopback port, its upstreams the in-process platform."""
    settings = ClientSettings(
        environment="test",
        csrf_secret="browser-tests-" + "x" * 32,
        payment_authentication_origin=stripe_sandbox,
    )
    app = create_client_app(settings, transport=platform.transport)  # type: ignore[attr-defined]
    port = SITE_PORT
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 15
    while not server.started:  # uvicorn offers no event to await: poll with a deadline
        if task.done():
            task.result()  # raises what stopped it
        assert time.monotonic() < deadline, "the client did not start listening"
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
