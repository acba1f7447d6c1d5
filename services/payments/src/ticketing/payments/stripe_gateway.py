"""Stripe, as payments uses it: charge an order (a confirmed PaymentIntent) and refund one.

Always the real ``stripe`` SDK, async. With ``stripe_api_base`` set it talks to that
Stripe-compatible server (the local sandbox) without network retries; otherwise to Stripe,
retrying network failures (safe: every POST carries an idempotency key derived from the order).
Stripe's errors become contract errors here: a decline is a 400 with Stripe's own message.
Only what Stripe answers leaves this module, as a plain ``domain.Intent``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import stripe
from fastapi import Depends

from ticketing.common.contracts import to_cents
from ticketing.common.errors import (
    BadRequestError,
    ConflictError,
    FieldError,
    ServiceUnavailableError,
)
from ticketing.common.service import ServiceRuntime, context_of
from ticketing.payments import domain
from ticketing.payments.config import PaymentsSettings

logger = logging.getLogger("ticketing.payments.stripe")

stripe.enable_telemetry = False  # no request-timing header to Stripe

PAYMENT_METHOD_PREFIX = "pm_"
TOKEN_PARAMS = ("payment_method", "payment_method_data", "token")


def payment_method_params(token: str) -> dict[str, Any]:
    """A PaymentMethod id (``pm_card_visa``) is used as is; a legacy card token (``tok_visa``)
    becomes an inline card PaymentMethod, as Stripe expects."""
    if token.startswith(PAYMENT_METHOD_PREFIX):
        return {"payment_method": token}
    return {"payment_method_data": {"type": "card", "card": {"token": token}}}


class StripeGateway:
    def __init__(self, settings: PaymentsSettings) -> None:
        self._http = stripe.HTTPXClient(timeout=settings.stripe_timeout_seconds)
        sandbox = settings.stripe_api_base is not None
        self._client = stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses={"api": settings.stripe_api_base} if sandbox else None,
            max_network_retries=0 if sandbox else 2,
            http_client=self._http,
        )
        self.currency = settings.currency

    async def charge(
        self, *, order_id: UUID, price: Decimal, token: str, attempt: int, return_url: str
    ) -> domain.Intent:
        """Create and confirm a PaymentIntent for the order. The answer may be ``succeeded``
        or ``requires_action`` (3-D Secure: send the buyer to ``next_action_url``; Stripe
        brings them back to ``return_url``); a decline raises ``CardDeclinedError``."""
        params: dict[str, Any] = {
            "amount": to_cents(price),
            "currency": self.currency,
            "confirm": True,
            "payment_method_types": ["card"],
            "return_url": return_url,
            "metadata": {"orderId": str(order_id)},
            **payment_method_params(token),
        }
        key = domain.charge_idempotency_key(order_id, attempt)
        with _stripe_errors():
            intent = await self._client.v1.payment_intents.create_async(
                params=params,  # type: ignore[arg-type]  # the TypedDict omits card tokens
                options={"idempotency_key": key},
            )
        return _intent(intent)

    async def retrieve(self, intent_id: str) -> domain.Intent:
        with _stripe_errors():
            return _intent(await self._client.v1.payment_intents.retrieve_async(intent_id))

    async def cancel(self, intent_id: str) -> domain.Intent:
        """Abandon an intent still awaiting authentication; if it succeeded meanwhile, Stripe
        refuses and the succeeded intent is returned (the caller settles it)."""
        try:
            with _stripe_errors():
                return _intent(await self._client.v1.payment_intents.cancel_async(intent_id))
        except BadRequestError:
            return await self.retrieve(intent_id)

    async def refund(self, intent_id: str) -> None:
        """Give the money back; refunding an already refunded intent is a no-op."""
        try:
            await self._client.v1.refunds.create_async(
                params={"payment_intent": intent_id},
                options={"idempotency_key": domain.refund_idempotency_key(intent_id)},
            )
        except stripe.InvalidRequestError as exc:
            if exc.code != "charge_already_refunded":
                raise
        logger.warning("Refunded PaymentIntent %s", intent_id)

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]


def _intent(intent: stripe.PaymentIntent) -> domain.Intent:
    data: dict[str, Any] = intent.to_dict()
    redirect = (data.get("next_action") or {}).get("redirect_to_url") or {}
    return domain.Intent(
        id=data["id"],
        status=data["status"],
        amount=data["amount"],
        currency=data["currency"],
        order_id=(data.get("metadata") or {}).get("orderId"),
        next_action_url=redirect.get("url"),
        error_message=(data.get("last_payment_error") or {}).get("message"),
    )


@contextlib.contextmanager
def _stripe_errors() -> Iterator[None]:
    """Stripe's errors as contract errors: a decline is a 400 with Stripe's own message."""
    try:
        yield
    except stripe.CardError as exc:
        raise domain.CardDeclinedError(exc.user_message or "Your card was declined.") from exc
    except stripe.InvalidRequestError as exc:
        if exc.param and exc.param.startswith(TOKEN_PARAMS):
            raise FieldError("token", exc.user_message or "Invalid card token") from exc
        raise BadRequestError(
            exc.user_message or "The payment provider refused the request"
        ) from exc
    except stripe.IdempotencyError as exc:
        raise ConflictError(domain.IN_PROGRESS) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise ServiceUnavailableError("The payment provider is not reachable") from exc


PaymentsRuntime = ServiceRuntime[PaymentsSettings, StripeGateway]
"""The payments service running: its settings, and its Stripe gateway as the context."""

Gateway = Annotated[StripeGateway, Depends(context_of(StripeGateway))]
"""The running service's Stripe gateway, as a route dependency."""
