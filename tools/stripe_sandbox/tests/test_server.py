"""Running the sandbox: ``serve()`` in tests and ``python -m ticketing.stripe_sandbox`` in dev,
both able to deliver webhooks from the start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from typing import Any

import httpx
import pytest
import stripe
from sandbox_client import (
    WEBHOOK_SECRET,
    WebhookEndpoint,
    card_payment,
    configure_webhooks,
    settled_deliveries,
    start_endpoint,
    within,
)

from ticketing.stripe_sandbox import create_app, serve

COMMAND = [sys.executable, "-m", "ticketing.stripe_sandbox", "--port", "0"]


def pay(url: str) -> Any:
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": url}, max_network_retries=0)
    return client.v1.payment_intents.create(params=card_payment(payment_method="pm_card_visa"))


def test_serve_frees_its_port() -> None:
    with serve() as url:
        port = int(url.rsplit(":", 1)[1])
        assert httpx.get(f"{url}/_sandbox/health").json() == {"ok": True}
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_serve_with_a_webhook_delivers_from_the_start_and_after_a_reset() -> None:
    first, second = WebhookEndpoint(), WebhookEndpoint()
    servers = [start_endpoint(first), start_endpoint(second)]
    try:
        with serve(webhook_url=first.url, webhook_secret=WEBHOOK_SECRET) as url:
            configure_webhooks(url, second.url)
            httpx.post(f"{url}/_sandbox/reset").raise_for_status()
            intent = pay(url)
            within(10, lambda: settled_deliveries(url, 1))
        assert [event["data"]["object"]["id"] for event in first.events()] == [intent.id]
        assert second.events() == []
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_create_app_refuses_a_webhook_without_a_signing_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        create_app(webhook_url="http://127.0.0.1:9/hook", webhook_secret="not-whsec")


def test_module_entry_point_reports_ready_and_delivers_to_the_configured_webhook() -> None:
    endpoint = WebhookEndpoint()
    server = start_endpoint(endpoint)
    environment = {**os.environ, "STRIPE_SANDBOX_WEBHOOK_SECRET": WEBHOOK_SECRET}
    command = [*COMMAND, "--log-level", "warning", "--webhook-url", endpoint.url]
    try:
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, env=environment
        ) as process:
            try:
                assert process.stdout is not None
                line = process.stdout.readline()
                assert "ready" in line
                url = line.strip().rsplit(" ", 1)[1]
                assert httpx.get(f"{url}/_sandbox/health").json() == {"ok": True}
                intent = pay(url)
                events = within(10, lambda: _one_event(endpoint))
                assert events[0]["data"]["object"]["id"] == intent.id
            finally:
                process.terminate()
    finally:
        server.shutdown()
        server.server_close()
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it captured.
    assert process.returncode in (0, -signal.SIGTERM)


def _one_event(endpoint: WebhookEndpoint) -> list[dict[str, Any]]:
    events = endpoint.events()
    assert len(events) == 1
    return events


def test_module_entry_point_refuses_a_bad_webhook_secret() -> None:
    command = [*COMMAND, "--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret", "x"]

    result = subprocess.run(command, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "whsec_" in result.stderr
