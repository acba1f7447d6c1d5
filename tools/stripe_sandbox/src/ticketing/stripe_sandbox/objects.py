"""The Stripe objects the sandbox keeps (payment methods, charges, PaymentIntents, refunds)
and their JSON, shaped like Stripe's so the SDK's StripeObject attributes work."""

from __future__ import annotations

import datetime
import secrets
import string
from dataclasses import dataclass, field

from ticketing.stripe_sandbox.cards import (
    CardProfile,
)
from ticketing.stripe_sandbox.errors import (
    JsonDict,
    StripeApiError,
)
from ticketing.stripe_sandbox.params import ParamValue

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
    billing_details: ParamValue | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> JsonDict:
        created_year = datetime.datetime.fromtimestamp(self.created, datetime.UTC).year
        billing = self.billing_details if isinstance(self.billing_details, dict) else {}
        return {
            "id": self.id,
            "object": "payment_method",
            "allow_redisplay": "unspecified",
            "billing_details": {
                "address": billing.get("address"),
                "email": billing.get("email"),
                "name": billing.get("name"),
                "phone": billing.get("phone"),
            },
            "card": {
                "brand": self.card.brand,
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": "pass",
                },
                "country": self.card.country,
                "display_brand": self.card.brand,
                "exp_month": 12,
                "exp_year": created_year + 1,
                "funding": self.card.funding,
                "last4": self.card.last4,
                "networks": {"available": [self.card.brand], "preferred": None},
                "wallet": None,
            },
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
    description: str | None
    failure: StripeApiError | None = None
    amount_refunded: int = 0

    @property
    def succeeded(self) -> bool:
        return self.failure is None

    @property
    def refunded(self) -> bool:
        return self.succeeded and self.amount_refunded == self.amount

    def to_json(self) -> JsonDict:
        card = self.payment_method.card
        payment_method = self.payment_method.to_json()
        outcome: JsonDict = {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
        if self.failure is not None:
            outcome = {
                "network_status": "declined_by_network",
                "reason": self.failure.decline_code,
                "risk_level": "normal",
                "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined",
            }
        return {
            "id": self.id,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": self.amount if self.succeeded else 0,
            "amount_refunded": self.amount_refunded,
            "balance_transaction": None,
            "billing_details": payment_method["billing_details"],
            "captured": self.succeeded,
            "created": self.created,
            "currency": self.currency,
            "description": self.description,
            "failure_code": self.failure.code if self.failure else None,
            "failure_message": self.failure.message if self.failure else None,
            "livemode": False,
            "metadata": dict(self.metadata),
            "outcome": outcome,
            "paid": self.succeeded,
            "payment_intent": self.payment_intent,
            "payment_method": self.payment_method.id,
            "payment_method_details": {
                "card": {
                    "brand": card.brand,
                    "country": card.country,
                    "exp_month": 12,
                    "exp_year": payment_method["card"]["exp_year"],
                    "funding": card.funding,
                    "last4": card.last4,
                },
                "type": "card",
            },
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
    status: str = "requires_payment_method"
    payment_method: PaymentMethod | None = None
    latest_charge: str | None = None
    last_payment_error: JsonDict | None = None
    description: str | None = None
    receipt_email: str | None = None
    statement_descriptor: str | None = None
    statement_descriptor_suffix: str | None = None
    capture_method: str = "automatic_async"
    confirmation_method: str = "automatic"
    setup_future_usage: str | None = None
    shipping: ParamValue | None = None
    transfer_group: str | None = None
    canceled_at: int | None = None
    cancellation_reason: str | None = None

    def to_json(self) -> JsonDict:
        return {
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": self.amount if self.status == "succeeded" else 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": (
                dict(self.automatic_payment_methods) if self.automatic_payment_methods else None
            ),
            "canceled_at": self.canceled_at,
            "cancellation_reason": self.cancellation_reason,
            "capture_method": self.capture_method,
            "client_secret": self.client_secret,
            "confirmation_method": self.confirmation_method,
            "created": self.created,
            "currency": self.currency,
            "customer": None,
            "description": self.description,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "livemode": False,
            "metadata": dict(self.metadata),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": self.payment_method.id if self.payment_method else None,
            "payment_method_options": {},
            "payment_method_types": list(self.payment_method_types),
            "processing": None,
            "receipt_email": self.receipt_email,
            "review": None,
            "setup_future_usage": self.setup_future_usage,
            "shipping": self.shipping,
            "source": None,
            "statement_descriptor": self.statement_descriptor,
            "statement_descriptor_suffix": self.statement_descriptor_suffix,
            "status": self.status,
            "transfer_data": None,
            "transfer_group": self.transfer_group,
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
            "balance_transaction": None,
            "charge": self.charge,
            "created": self.created,
            "currency": self.currency,
            "destination_details": {"card": {"type": "refund"}, "type": "card"},
            "metadata": dict(self.metadata),
            "payment_intent": self.payment_intent,
            "reason": self.reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
