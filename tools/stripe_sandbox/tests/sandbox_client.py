"""What the sandbox's tests share: SDK params for test cards, the ``/_sandbox`` control API,
polling with a deadline, and a real HTTP server standing in for a webhook endpoint.

(A module of its own, not ``conftest``: that name is taken on the workspace's test path.)"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
WEBHOOK_SECRET = "whsec_sandbox_tests"
RETURN_URL = "http://shop.test/orders/1?tab=payment"


def card_payment(amount: int = 2500, **extra: Any) -> Any:
    """PaymentIntent params for a confirmed card payment (``Any``: the SDK's TypedDicts omit
    ``payment_method_data[card]``, which Stripe accepts for test tokens)."""
    return {
        "amount": amount,
        "currency": "usd",
        "payment_method_types": ["card"],
        "confirm": True,
        "metadata": {"orderId": "order-1"},
        **extra,
    }


def token(name: str) -> dict[str, Any]:
    return {"payment_method_data": {"type": "card", "card": {"token": name}}}


def charges(base_url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base_url}/_sandbox/charges")
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def within(seconds: float, check: Callable[[], T]) -> T:
    """``check()`` once it stops raising AssertionError, polling until the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class WebhookEndpoint:
    """A webhook endpoint on a real port; answers 500 to the first ``failures`` requests."""

    url: str = ""
    failures: int = 0
    gate: threading.Event | None = None  # if set, requests wait for it before being answered
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        if self.gate is not None:
            self.gate.wait(30)
        with self.lock:
            status = 500 if len(self.answered) < self.failures else 200
            self.answered.append(status)
            if status == 200:
                self.received.append(Received(headers, body))
            return status

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [received.event() for received in self.received]


def start_endpoint(endpoint: WebhookEndpoint, port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = endpoint.handle(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/webhook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def configure_webhooks(base_url: str, url: str, secret: str = WEBHOOK_SECRET) -> None:
    response = httpx.post(f"{base_url}/_sandbox/webhooks", json={"url": url, "secret": secret})
    assert response.status_code == 200, response.text


def deliveries(base_url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base_url}/_sandbox/webhooks/deliveries")
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def settled_deliveries(base_url: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` deliveries, once none of them is still pending."""
    found = deliveries(base_url)
    assert len(found) >= count, found
    assert all(delivery["state"] != "pending" for delivery in found), found
    return found
