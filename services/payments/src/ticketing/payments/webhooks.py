"""``POST /api/payments/webhook``: Stripe tells us a PaymentIntent succeeded.

The safety net for a charge whose ``POST /api/payments`` never got to record it (a crash, a
timeout): the signed ``payment_intent.succeeded`` is settled exactly like the POST would have
(recorded once and ``payment.created`` published, or refunded if the order was cancelled).
A second delivery of the same event finds the payment recorded and changes nothing. Other event
types are acknowledged and ignored. A bad or missing signature is a 400.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import stripe
from fastapi import APIRouter, Header, Request

from ticketing.common.errors import BadRequestError, ServiceUnavailableError
from ticketing.common.service import UnitOfWorkDep
from ticketing.payments.config import Settings
from ticketing.payments.models import Order
from ticketing.payments.settlement import settle_charge
from ticketing.payments.stripe_gateway import Gateway

logger = logging.getLogger("ticketing.payments.webhooks")

router = APIRouter(prefix="/api/payments", tags=["payments"])

PAYMENT_SUCCEEDED = "payment_intent.succeeded"


def verified_event(payload: bytes, signature: str | None, secret: str | None) -> dict[str, Any]:
    """The event Stripe signed, as plain JSON data; a 400 unless the signature is valid."""
    if not secret:
        raise ServiceUnavailableError("Stripe webhooks are not configured")
    if not signature:
        raise BadRequestError("Missing Stripe-Signature header")
    try:
        event = stripe.Webhook.construct_event(payload.decode(), signature, secret)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise BadRequestError("Invalid Stripe webhook signature") from exc
    data: dict[str, Any] = event.to_dict()
    return data


def _order_id(intent: dict[str, Any]) -> UUID | None:
    try:
        return UUID(str((intent.get("metadata") or {}).get("orderId")))
    except ValueError:
        return None


@router.post("/webhook")
async def stripe_webhook(
    request: Request,
    uow: UnitOfWorkDep,
    gateway: Gateway,
    settings: Settings,
    stripe_signature: str | None = Header(default=None, alias="Stripe-Signature"),
) -> dict[str, bool]:
    event = verified_event(await request.body(), stripe_signature, settings.stripe_webhook_secret)
    if event["type"] != PAYMENT_SUCCEEDED:
        return {"received": True}
    intent = event["data"]["object"]
    order_id = _order_id(intent)
    if order_id is None or await uow.session.get(Order, order_id) is None:
        logger.warning("Webhook: PaymentIntent %s is for no order of ours", intent["id"])
        return {"received": True}
    await settle_charge(uow, gateway, order_id=order_id, intent_id=intent["id"])
    await uow.commit()
    return {"received": True}
