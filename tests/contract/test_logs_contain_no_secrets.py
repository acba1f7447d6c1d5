"""Nothing logs a password, token, cookie or secret (DESIGN §10), whatever the log level.

Every logger at DEBUG, plus the process's own stdout and stderr (where the services' JSON
lines go), while a whole purchase happens on the platform: sign-up, sign-in, a ticket, an
order, a payment through the Stripe sandbox and its webhook, a sign-in through the client's
form, a sign-out and an admin's ban. Then no secret may appear anywhere.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import httpx
import pytest
import stripe
from observability.capture import submit

from ticketing.testkit.http import TEST_PASSWORD, eventually, sign_up

if TYPE_CHECKING:
    from platform_testing import Platform

STRIPE_KEY = f"sk_test_{secrets.token_hex(16)}"
WEBHOOK_SECRET = f"whsec_{secrets.token_hex(16)}"
ADMIN_EMAIL = f"admin-{uuid4().hex[:8]}@example.com"
OTHER_PASSWORD = f"pw-{secrets.token_hex(8)}"


@pytest.fixture(autouse=True)
def deployed_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets come from the environment, as in production (read when ``platform`` starts)."""
    monkeypatch.setenv("PAYMENTS_STRIPE_SECRET_KEY", STRIPE_KEY)
    monkeypatch.setenv("PAYMENTS_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("AUTH_ADMIN_EMAILS", ADMIN_EMAIL)


def everything_logged(records: list[logging.LogRecord], streams: str) -> str:
    """Each record's message, arguments, exception text and extra fields, and the streams."""
    parts = [streams]
    for record in records:
        parts.append(record.getMessage())
        parts.extend(repr(value) for value in record.__dict__.values())
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def secrets_in_flight(tokens: list[str], jwt_private_pem: str) -> dict[str, str]:
    key_body = "".join(line for line in jwt_private_pem.splitlines() if "PRIVATE KEY" not in line)
    found = {
        "password": TEST_PASSWORD,
        "another password": OTHER_PASSWORD,
        "Stripe secret key": STRIPE_KEY,
        "webhook secret": WEBHOOK_SECRET,
        "JWT private key": key_body,
    }
    for number, token in enumerate(tokens):
        found[f"session token {number}"] = token
        found[f"session token {number}'s signature"] = token.rsplit(".", 1)[-1]
    return found


async def test_a_purchase_sign_out_and_ban_log_no_secret(
    platform: Platform,
    client_site: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, whatever it would log in production
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)  # restored after the test
    tokens: list[str] = []

    async with platform.browser() as seller_http, platform.browser() as buyer_http:
        await sign_up(seller_http)
        buyer = await sign_up(buyer_http)
        tokens += [seller_http.cookies["session"], buyer_http.cookies["session"]]
        sold = await seller_http.post("/api/tickets", json={"title": "Concert", "price": 25})
        ticket = sold.json()

        async def ordered() -> dict[str, Any]:
            response = await buyer_http.post("/api/orders", json={"ticketId": ticket["id"]})
            assert response.status_code == 201, response.text
            order: dict[str, Any] = response.json()
            return order

        order = await eventually(ordered, timeout=20)

        async def paid() -> None:
            response = await buyer_http.post(
                "/api/payments", json={"orderId": order["id"], "token": "tok_visa"}
            )
            assert response.status_code == 201, response.text

        await eventually(paid, timeout=20)  # once payments knows the order
        [payment] = await platform.payments_of(order["id"])
        event = json.dumps(
            {
                "id": f"evt_{uuid4().hex}",
                "object": "event",
                "type": "payment_intent.succeeded",
                "data": {"object": {"id": payment.stripe_id, "object": "payment_intent"}},
            }
        )
        signature = stripe.WebhookSignature.generate_signature_header(event, WEBHOOK_SECRET)
        webhook = await buyer_http.post(
            "/api/payments/webhook",
            content=event,
            headers={"stripe-signature": signature, "content-type": "application/json"},
        )
        wrong_password = await buyer_http.post(
            "/api/users/signin", json={"email": buyer.email, "password": OTHER_PASSWORD}
        )
        signed_in = await buyer_http.post(
            "/api/users/signin", json={"email": buyer.email, "password": TEST_PASSWORD}
        )
        tokens.append(buyer_http.cookies["session"])
        signed_out = await buyer_http.post("/api/users/signout")
    credentials = {"email": buyer.email, "password": TEST_PASSWORD}
    on_site = await submit(client_site, "/auth/signin", "/auth/signin", credentials, "on-site")
    tokens.append(client_site.cookies["session"])

    async with platform.browser() as admin_http:
        await sign_up(admin_http, ADMIN_EMAIL)
        tokens.append(admin_http.cookies["session"])
        banned = await admin_http.post(f"/api/users/{ticket['userId']}/ban")

    assert (webhook.status_code, wrong_password.status_code) == (200, 400)
    assert (signed_in.status_code, signed_out.status_code, banned.status_code) == (200, 200, 204)
    assert on_site.status_code == 303, on_site.text
    captured = capfd.readouterr()
    assert '"request_id": "on-site"' in captured.err  # the rendered lines were seen too
    logged = everything_logged(caplog.records, captured.out + captured.err)
    assert len(caplog.records) > 0  # the flow did log (so this test can see a leak)
    in_flight = secrets_in_flight(tokens, platform.auth_settings.jwt_private_key)
    leaks = [name for name, secret in in_flight.items() if secret in logged]
    assert leaks == []
