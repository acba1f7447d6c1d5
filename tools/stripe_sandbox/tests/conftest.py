"""The sandbox on a real port, driven by the real ``stripe`` SDK (v16) as payments drives it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import stripe

from ticketing.stripe_sandbox import serve

# The test modules import their shared helpers from sandbox_client.py, next to this file.
sys.path.insert(0, str(Path(__file__).parent))

from sandbox_client import WebhookEndpoint, configure_webhooks, start_endpoint

stripe.enable_telemetry = False


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve() as url:
        yield url


@pytest.fixture(autouse=True)
def _reset(base_url: str) -> None:
    httpx.post(f"{base_url}/_sandbox/reset").raise_for_status()


@pytest.fixture
def client(base_url: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_sandbox", base_addresses={"api": base_url}, max_network_retries=0
    )


@pytest.fixture
def endpoint(base_url: str) -> Iterator[WebhookEndpoint]:
    """A webhook endpoint the sandbox delivers to (configured through ``/_sandbox/webhooks``)."""
    receiver = WebhookEndpoint()
    server = start_endpoint(receiver)
    configure_webhooks(base_url, receiver.url)
    yield receiver
    server.shutdown()
    server.server_close()
