"""The Stripe objects the sandbox keeps (payment methods, charges, PaymentIntents, refunds)
and their JSON: the fields a client reads, named and shaped as Stripe's, so the SDK's
StripeObject attributes work and code written against the sandbox works against Stripe."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field

from ticketing.stripe_sandbox.cards import CardProfile
from ticketing.stripe_sandbox.errors import JsonDict, StripeApiError

_ID_ALPHABET = string.ascii_letters + string.digits


def random_suffix(length: int = 24) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_id(prefix: str) -> str:
    return f"{prefix}_{random_suffix()}"


@dataclass
class PaymentMethod:
    id: str
    card: CardProfile
    created: int
    metadata: dict[str, str] = field(default_factory=dict)

    def card_json(self) -> JsonDict:
        return {
            "brand": self.card.brand,
            "country": self.card.country,
            "exp_month": 12,
            "exp_year": 2034,
            "funding": self.card.funding,
            "last4": self.card.last4,
        }

    def to_json(self) -> JsonDict:
        return {
            "id": self.id,
            "object": "payment_method",
            "card": self.card_json(),
            "created": self.created,
            "customer": None,
            "livemode": False,
            "metadata": dict(self.metadata),
            "type": "card",
        }


@dataclass
class Charge:
    id: str
    amount: int
    currency: str
    payment_intent: str
    payment_method: PaymentMethod
    created: int
    metadata: dict[str, str]
    failure: StripeApiError | None = None
    amount_refunded: int = 0

    @property
    def succeeded(self) -> bool:
        return self.failure is None

    @property
    def refunded(self) -> bool:
        return self.succeeded and self.amount_refunded == self.amount

    def to_json(self) -> JsonDict:
        return {
            "id": self.id,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": self.amount if self.succeeded else 0,
            "amount_refunded": self.amount_refunded,
            "captured": self.succeeded,
            "created": self.created,
            "currency": self.currency,
            "failure_code": self.failure.code if self.failure else None,
            "failure_message": self.failure.message if self.failure else None,
            "livemode": False,
            "metadata": dict(self.metadata),
            "paid": self.succeeded,
            "payment_intent": self.payment_intent,
            "payment_method": self.payment_method.id,
            "payment_method_details": {"card": self.payment_method.card_json(), "type": "card"},
            "refunded": self.refunded,
            "status": "succeeded" if self.succeeded else "failed",
        }


@dataclass
class PaymentIntent:
    id: str
    amount: int
    currency: str
    created: int
    metadata: dict[str, str]
    payment_method_types: list[str]
    automatic_payment_methods: JsonDict | None
    client_secret: str
    description: str | None = None
    status: str = "requires_payment_method"
    payment_method: PaymentMethod | None = None
    latest_charge: str | None = None
    last_payment_error: JsonDict | None = None
    next_action: JsonDict | None = None
    return_url: str | None = None
    canceled_at: int | None = None
    cancellation_reason: str | None = None

    def to_json(self) -> JsonDict:
        return {
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": 0,
            "amount_received": self.amount if self.status == "succeeded" else 0,
            "automatic_payment_methods": (
                dict(self.automatic_payment_methods) if self.automatic_payment_methods else None
            ),
            "canceled_at": self.canceled_at,
            "cancellation_reason": self.cancellation_reason,
            "capture_method": "automatic_async",
            "client_secret": self.client_secret,
            "confirmation_method": "automatic",
            "created": self.created,
            "currency": self.currency,
            "customer": None,
            "description": self.description,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "livemode": False,
            "metadata": dict(self.metadata),
            "next_action": self.next_action,
            "payment_method": self.payment_method.id if self.payment_method else None,
            "payment_method_types": list(self.payment_method_types),
            "status": self.status,
        }


@dataclass
class Refund:
    id: str
    amount: int
    charge: str
    payment_intent: str
    currency: str
    created: int
    metadata: dict[str, str]
    reason: str | None

    def to_json(self) -> JsonDict:
        return {
            "id": self.id,
            "object": "refund",
            "amount": self.amount,
            "charge": self.charge,
            "created": self.created,
            "currency": self.currency,
            "metadata": dict(self.metadata),
            "payment_intent": self.payment_intent,
            "reason": self.reason,
            "status": "succeeded",
        }
