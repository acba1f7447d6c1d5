"""``POST /api/payments/webhook``: Stripe says something happened to a PaymentIntent.

The safety net for a charge whose request never got to record it (a crash, a timeout, a buyer
who closed the tab on the 3-D Secure page). The body proves nothing by itself, even signed (a
signing secret can leak; the dev one is public): it only names an intent, and payments
retrieves that intent from Stripe and acts on what Stripe answers — settled exactly like a
direct charge when it succeeded for this order's amount and currency, the attempt released
when it failed. Unknown or mismatching intents are logged and ignored; a second delivery
changes nothing. A bad signature or a malformed body is a 400.
"""

from __future__ import annotations

import json
import logging
from uuid import UUID

import stripe
from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ValidationError

from ticketing.common.errors import BadRequestError, ServiceUnavailableError
from ticketing.common.service import UnitOfWorkDep
from ticketing.common.uow import UnitOfWork
from ticketing.payments import domain
from ticketing.payments.config import Settings
from ticketing.payments.models import Order, PaymentAttempt
from ticketing.payments.settlement import IntentDoesNotPay, mark_attempt, settle_charge
from ticketing.payments.stripe_gateway import Gateway, StripeGateway

logger = logging.getLogger("ticketing.payments.webhooks")

router = APIRouter(prefix="/api/payments", tags=["payments"])

PAYMENT_SUCCEEDED = "payment_intent.succeeded"
PAYMENT_FAILED = "payment_intent.payment_failed"


class _Object(BaseModel):
    id: str


class _Data(BaseModel):
    object: _Object


class StripeEvent(BaseModel):
    """The only parts of Stripe's event we read: its type and the id of its object."""

    id: str
    type: str
    data: _Data


def verified_event(payload: bytes, signature: str | None, secret: str | None) -> StripeEvent:
    """The event Stripe signed; a 400 unless the signature is valid and the body well formed."""
    if not secret:
        raise ServiceUnavailableError("Stripe webhooks are not configured")
    if not signature:
        raise BadRequestError("Missing Stripe-Signature header")
    try:
        text = payload.decode()
        stripe.WebhookSignature.verify_header(text, signature, secret)
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise BadRequestError("Invalid Stripe webhook signature") from exc
    try:
        return StripeEvent.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise BadRequestError("Malformed Stripe event") from exc


@router.post("/webhook")
async def stripe_webhook(
    request: Request,
    uow: UnitOfWorkDep,
    gateway: Gateway,
    settings: Settings,
    stripe_signature: str | None = Header(default=None, alias="Stripe-Signature"),
) -> dict[str, bool]:
    event = verified_event(await request.body(), stripe_signature, settings.stripe_webhook_secret)
    if event.type in (PAYMENT_SUCCEEDED, PAYMENT_FAILED):
        await _follow_intent(uow, gateway, event.data.object.id)
    return {"received": True}


async def _follow_intent(uow: UnitOfWork, gateway: StripeGateway, intent_id: str) -> None:
    try:
        intent = await gateway.retrieve(intent_id)
    except BadRequestError:
        logger.warning("Webhook names PaymentIntent %s, which Stripe does not know", intent_id)
        return
    order_id = _order_id(intent.order_id)
    if order_id is None or await uow.session.get(Order, order_id) is None:
        logger.warning("Webhook: PaymentIntent %s is for no order of ours", intent.id)
        return
    if intent.status == domain.SUCCEEDED:
        try:
            await settle_charge(uow, gateway, order_id=order_id, intent=intent)
        except IntentDoesNotPay as exc:
            logger.warning("Webhook: PaymentIntent %s ignored: %s", intent.id, exc)
            return
        await uow.commit()
    elif intent.status == "requires_payment_method":
        await _release_failed_authentication(uow, order_id, intent)


async def _release_failed_authentication(
    uow: UnitOfWork, order_id: UUID, intent: domain.Intent
) -> None:
    attempt = await uow.session.get(PaymentAttempt, order_id, with_for_update=True)
    if attempt is not None and attempt.intent_id == intent.id:
        await mark_attempt(uow, order_id, intent, status="failed", error=intent.error_message)
        await uow.commit()


def _order_id(value: str | None) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None
