"""Webhook delivery as Stripe does it: signed JSON POSTs to one endpoint, retried, logged.

Each event is POSTed as JSON with a ``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" keyed by the endpoint secret>`` header, which ``stripe.Webhook.construct_event``
verifies; every attempt is signed afresh. Delivery runs in tasks on the server's event loop,
never inside the API call that caused the event; a 2xx answer delivers, anything else (another
status, a refused connection, a timeout) is retried after ``RETRY_DELAYS``, then given up.
Stripe keeps retrying for days; the sandbox for about 6 minutes, longer than any outage the
fault suite makes (payments' database down for 90 s answers 503): a charge made just before
the outage is settled by the webhook once payments is back, as it would be in production.
Every attempt is logged and recorded, and ``deliveries()`` is what tests await.

The HTTP client is a few lines of asyncio streams, because the sandbox depends on nothing
beyond FastAPI and uvicorn and a delivery must be cancellable when the server stops.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import ssl
import time
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

from ticketing.stripe_sandbox.errors import JsonDict, invalid_request

logger = logging.getLogger("ticketing.stripe_sandbox.webhooks")

RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, *(60.0,) * 5)  # 12 attempts over ~6 min
ATTEMPT_TIMEOUT_SECONDS = 10.0
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
WEBHOOK_SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class WebhookEndpoint:
    url: str
    secret: str


def webhook_endpoint_from(url: object, secret: object) -> WebhookEndpoint:
    """A webhook endpoint as Stripe would accept it: an http(s) URL and a ``whsec_`` secret."""
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise invalid_request("url must be an http:// or https:// URL.", param="url")
    if not urlsplit(url).hostname:
        raise invalid_request("url must name a host.", param="url")
    if not isinstance(secret, str) or not secret.startswith(WEBHOOK_SECRET_PREFIX):
        raise invalid_request(
            f"secret must be a webhook signing secret ({WEBHOOK_SECRET_PREFIX}...).",
            param="secret",
        )
    return WebhookEndpoint(url, secret)


@dataclass
class Delivery:
    """One event on its way to the endpoint, as ``GET /_sandbox/webhooks/deliveries`` shows it."""

    event: str
    type: str
    payment_intent: str | None
    url: str
    attempts: int = 0
    status_code: int | None = None
    error: str | None = None
    state: str = "pending"  # then "delivered" or "failed"

    def to_json(self) -> JsonDict:
        return dict(self.__dict__)


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """Stripe's ``Stripe-Signature`` for ``payload`` (the scheme of the stripe library)."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class WebhookDispatcher:
    """The configured endpoint (if any), the deliveries made to it and those still running."""

    def __init__(
        self,
        endpoint: WebhookEndpoint | None = None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self._initial = endpoint
        self.endpoint = endpoint
        self._retry_delays = retry_delays
        self._deliveries: list[Delivery] = []
        self._running: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        """Forget every delivery, stop those under way, and go back to the initial endpoint."""
        for task in self._running:
            task.cancel()
        self._running.clear()
        self._deliveries.clear()
        self.endpoint = self._initial

    def deliveries(self) -> list[JsonDict]:
        return [delivery.to_json() for delivery in self._deliveries]

    async def dispatch(self, events: list[JsonDict]) -> None:
        """Start delivering ``events`` to the endpoint, in tasks on the running loop."""
        endpoint = self.endpoint
        if endpoint is None:
            return
        for event in events:
            obj = event["data"]["object"]
            delivery = Delivery(
                event=event["id"],
                type=event["type"],
                payment_intent=obj["id"]
                if obj["object"] == "payment_intent"
                else obj.get("payment_intent"),
                url=endpoint.url,
            )
            self._deliveries.append(delivery)
            payload = json.dumps({**event, "pending_webhooks": 1}, indent=2).encode()
            task = asyncio.create_task(self._deliver(delivery, payload, endpoint.secret))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _deliver(self, delivery: Delivery, payload: bytes, secret: str) -> None:
        for attempt, delay in enumerate((*self._retry_delays, None), start=1):
            delivery.attempts = attempt
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "Stripe-Signature": signature_header(payload, secret, int(time.time())),
            }
            try:
                delivery.status_code = await post(delivery.url, payload, headers)
                delivery.error = None
            except (OSError, TimeoutError, ValueError) as error:
                delivery.status_code = None
                delivery.error = f"{type(error).__name__}: {error}"
            if delivery.status_code is not None and 200 <= delivery.status_code < 300:
                delivery.state = "delivered"
                logger.info("%s: delivered %s (attempt %d)", delivery.url, delivery.type, attempt)
                return
            outcome = delivery.error or f"HTTP {delivery.status_code}"
            logger.warning(
                "%s: %s %s failed (attempt %d): %s",
                delivery.url,
                delivery.type,
                delivery.event,
                attempt,
                outcome,
            )
            if delay is None:
                delivery.state = "failed"
                return
            await asyncio.sleep(delay)


async def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to ``url`` over HTTP/1.1; the response's status code."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    https = parts.scheme == "https"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    async with asyncio.timeout(ATTEMPT_TIMEOUT_SECONDS):
        reader, writer = await asyncio.open_connection(
            parts.hostname,
            parts.port or (443 if https else 80),
            ssl=ssl.create_default_context() if https else None,
        )
        try:
            writer.write("\r\n".join(lines).encode("latin-1") + body)
            await writer.drain()
            status_line = await reader.readline()
            await reader.read()  # the rest, until the server closes
        finally:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()
    version, _, rest = status_line.decode("latin-1").partition(" ")
    if not version.startswith("HTTP/") or not rest[:3].isdigit():
        raise ValueError(f"not an HTTP response: {status_line[:80]!r}")
    return int(rest[:3])
