"""The sandbox's in-memory Stripe account: PaymentIntents, charges, refunds and their rules.

Everything Stripe would decide lives here, with no HTTP in sight: which params each endpoint
accepts, how confirming charges a test card, when the card is declined, how much may still be
refunded, how lists page, and what each object looks like as JSON. Every operation takes the
request's ``Params`` and returns the JSON body of the answer, or raises ``StripeApiError``
(a decline is raised *after* the failed attempt is recorded, as Stripe does). The ledger is not
synchronised itself: ``app.py`` holds one ``asyncio.Lock`` around every state change.
"""

from __future__ import annotations

import datetime
import re
import secrets
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from ticketing.stripe_sandbox.cards import (
    CardProfile,
    card_for_magic_payment_method,
    card_for_token,
)
from ticketing.stripe_sandbox.errors import (
    JsonDict,
    StripeApiError,
    invalid_request,
    resource_missing,
    unexpected_state,
)
from ticketing.stripe_sandbox.params import Params, ParamValue

# --- what each endpoint accepts -------------------------------------------------------------

_PAYMENT_INTENT_SHARED = frozenset(
    {
        "payment_method",
        "payment_method_data",
        "return_url",
        "receipt_email",
        "setup_future_usage",
        "shipping",
        "capture_method",
        "payment_method_options",
        "use_stripe_sdk",
        "error_on_requires_action",
        "radar_options",
        "expand",
    }
)
PAYMENT_INTENT_CREATE_PARAMS = _PAYMENT_INTENT_SHARED | {
    "amount",
    "currency",
    "confirm",
    "payment_method_types",
    "automatic_payment_methods",
    "metadata",
    "description",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "confirmation_method",
    "transfer_group",
}
PAYMENT_INTENT_CONFIRM_PARAMS = _PAYMENT_INTENT_SHARED
# Real Stripe params whose behaviour is not modelled: refused loudly rather than ignored.
_PAYMENT_INTENT_UNSUPPORTED = frozenset(
    {
        "allowed_payment_method_types",
        "amount_details",
        "amount_to_confirm",
        "confirmation_token",
        "excluded_payment_method_types",
        "hooks",
        "mandate",
        "mandate_data",
        "off_session",
        "payment_details",
    }
)
PAYMENT_INTENT_CREATE_UNSUPPORTED = _PAYMENT_INTENT_UNSUPPORTED | {
    "application_fee_amount",
    "customer",
    "customer_account",
    "on_behalf_of",
    "payment_method_configuration",
    "transfer_data",
}
PAYMENT_METHOD_DATA_PARAMS = frozenset(
    {"type", "card", "billing_details", "metadata", "allow_redisplay"}
)
REFUND_CREATE_PARAMS = frozenset(
    {"amount", "charge", "payment_intent", "metadata", "reason", "expand"}
)
REFUND_CREATE_UNSUPPORTED = frozenset(
    {
        "currency",
        "customer",
        "instructions_email",
        "origin",
        "refund_application_fee",
        "reverse_transfer",
    }
)
_PAGING_PARAMS = frozenset({"limit", "starting_after", "ending_before", "created", "expand"})

PAYMENT_INTENT_EXPANSIONS = frozenset({"latest_charge", "payment_method"})
CHARGE_EXPANSIONS = frozenset({"payment_intent", "payment_method"})
REFUND_EXPANSIONS = frozenset({"charge", "payment_intent"})

CANCELLATION_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer", "abandoned"})
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
SUPPORTED_PAYMENT_METHOD_TYPES = frozenset({"card"})

# --- money ----------------------------------------------------------------------------------

ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)
# Stripe's minimum charge amounts, in the smallest unit; other currencies use 50.
MINIMUM_AMOUNTS = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "aud": 50,
    "cad": 50,
    "chf": 50,
    "nzd": 50,
    "sgd": 50,
    "dkk": 250,
    "nok": 300,
    "sek": 300,
    "pln": 200,
    "hkd": 400,
    "mxn": 1000,
    "jpy": 50,
}
DEFAULT_MINIMUM_AMOUNT = 50
MAXIMUM_AMOUNT = 99_999_999
_CURRENCY = re.compile(r"^[a-z]{3}$")


def format_amount(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL_CURRENCIES:
        return f"{amount:,} {currency}"
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(amount), 100)
    return f"{sign}{units:,}.{cents:02d} {currency}"


# --- objects --------------------------------------------------------------------------------

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


class _Listable(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def created(self) -> int: ...

    def to_json(self) -> JsonDict: ...


_T = TypeVar("_T", bound=_Listable)


# --- the account ----------------------------------------------------------------------------


class Ledger:
    """One test-mode Stripe account held in memory."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.payment_methods: dict[str, PaymentMethod] = {}
        self.payment_intents: dict[str, PaymentIntent] = {}
        self.charges: dict[str, Charge] = {}
        self.refunds: dict[str, Refund] = {}

    def reset(self) -> None:
        self.payment_methods.clear()
        self.payment_intents.clear()
        self.charges.clear()
        self.refunds.clear()

    def _now(self) -> int:
        return int(self._clock())

    # payment intents -----------------------------------------------------------------------

    def create_payment_intent(self, params: Params) -> JsonDict:
        params.check_known(PAYMENT_INTENT_CREATE_PARAMS | PAYMENT_INTENT_CREATE_UNSUPPORTED)
        params.reject_unsupported(PAYMENT_INTENT_CREATE_UNSUPPORTED)
        currency = (params.string("currency", required=True) or "").lower()
        if not _CURRENCY.match(currency):
            raise invalid_request(f"Invalid currency: {currency}.", param="currency")
        amount = params.integer("amount", required=True) or 0
        minimum = MINIMUM_AMOUNTS.get(currency, DEFAULT_MINIMUM_AMOUNT)
        if amount < minimum:
            raise invalid_request(
                f"Amount must be at least {format_amount(minimum, currency)}",
                param="amount",
                code="amount_too_small",
            )
        if amount > MAXIMUM_AMOUNT:
            raise invalid_request(
                f"Amount must be no more than {format_amount(MAXIMUM_AMOUNT, currency)}",
                param="amount",
                code="amount_too_large",
            )
        types, automatic = self._payment_method_settings(params)
        confirm = params.boolean("confirm") or False
        return_url = params.string("return_url")
        expand = params.expand(PAYMENT_INTENT_EXPANSIONS)
        self._ignored_flags(params)
        payment_method = self._resolve_payment_method(params)
        intent = PaymentIntent(
            id=new_id("pi"),
            amount=amount,
            currency=currency,
            created=self._now(),
            metadata=params.metadata(),
            payment_method_types=types,
            automatic_payment_methods=automatic,
            client_secret="",
            description=params.string("description") or None,
            statement_descriptor=params.string("statement_descriptor") or None,
            statement_descriptor_suffix=params.string("statement_descriptor_suffix") or None,
            confirmation_method=(
                params.choice("confirmation_method", {"automatic", "manual"}) or "automatic"
            ),
            transfer_group=params.string("transfer_group") or None,
        )
        intent.client_secret = f"{intent.id}_secret_{random_suffix()}"
        self._apply_shared(intent, params)
        if confirm:
            self._check_confirmable(payment_method, automatic, return_url)
        if payment_method is not None:
            intent.payment_method = payment_method
            intent.status = "requires_confirmation"
        self.payment_intents[intent.id] = intent
        if confirm:
            self._attempt_charge(intent)
        return self._intent_json(intent, expand)

    def confirm_payment_intent(self, intent_id: str, params: Params) -> JsonDict:
        intent = self._intent(intent_id)
        params.check_known(PAYMENT_INTENT_CONFIRM_PARAMS | _PAYMENT_INTENT_UNSUPPORTED)
        params.reject_unsupported(_PAYMENT_INTENT_UNSUPPORTED)
        expand = params.expand(PAYMENT_INTENT_EXPANSIONS)
        self._ignored_flags(params)
        if intent.status not in CONFIRMABLE:
            raise unexpected_state(
                "You cannot confirm this PaymentIntent because it has a status of "
                f"{intent.status}. Only a PaymentIntent with one of the following statuses "
                f"may be confirmed: {', '.join(CONFIRMABLE)}."
            )
        payment_method = self._resolve_payment_method(params) or intent.payment_method
        self._check_confirmable(
            payment_method, intent.automatic_payment_methods, params.string("return_url")
        )
        self._apply_shared(intent, params)
        intent.payment_method = payment_method
        self._attempt_charge(intent)
        return self._intent_json(intent, expand)

    def cancel_payment_intent(self, intent_id: str, params: Params) -> JsonDict:
        intent = self._intent(intent_id)
        params.check_known({"cancellation_reason", "expand"})
        expand = params.expand(PAYMENT_INTENT_EXPANSIONS)
        reason = params.choice("cancellation_reason", CANCELLATION_REASONS)
        if intent.status not in CANCELABLE:
            raise unexpected_state(
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent.status}. Only a PaymentIntent with one of the following statuses "
                f"may be canceled: {', '.join(CANCELABLE)}."
            )
        intent.status = "canceled"
        intent.canceled_at = self._now()
        intent.cancellation_reason = reason
        return self._intent_json(intent, expand)

    def retrieve_payment_intent(self, intent_id: str, params: Params) -> JsonDict:
        intent = self._intent(intent_id)
        params.check_known({"expand", "client_secret"})
        return self._intent_json(intent, params.expand(PAYMENT_INTENT_EXPANSIONS))

    def list_payment_intents(self, params: Params) -> JsonDict:
        params.check_known(_PAGING_PARAMS | {"customer", "customer_account"})
        params.reject_unsupported({"customer", "customer_account"})
        return self._page(
            self.payment_intents.values(),
            params,
            url="/v1/payment_intents",
            kind="payment_intent",
            expansions=PAYMENT_INTENT_EXPANSIONS,
        )

    def _intent(self, intent_id: str) -> PaymentIntent:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise resource_missing("payment_intent", intent_id, param="intent", http_status=404)
        return intent

    def _intent_json(self, intent: PaymentIntent, expand: Iterable[str]) -> JsonDict:
        return self._expanded(intent.to_json(), expand)

    def _payment_method_settings(self, params: Params) -> tuple[list[str], JsonDict | None]:
        """``payment_method_types`` and ``automatic_payment_methods``, defaulted like Stripe.

        Since API version 2023-08-16 a PaymentIntent created without ``payment_method_types``
        has ``automatic_payment_methods`` enabled, allowing redirects.
        """
        types = params.string_list("payment_method_types")
        automatic_params = params.hash("automatic_payment_methods")
        if types is not None and automatic_params is not None:
            raise invalid_request(
                "You may only specify one of these parameters: automatic_payment_methods, "
                "payment_method_types.",
                param="automatic_payment_methods",
            )
        if types is not None:
            for method_type in types:
                if method_type not in SUPPORTED_PAYMENT_METHOD_TYPES:
                    raise invalid_request(
                        f"The payment method type provided: {method_type} is invalid. "
                        "The Stripe sandbox only supports card.",
                        param="payment_method_types",
                    )
            return types or ["card"], None
        if automatic_params is None:
            return ["card"], {"allow_redirects": "always", "enabled": True}
        automatic_params.check_known({"enabled", "allow_redirects"})
        automatic_params.require("enabled")
        enabled = automatic_params.boolean("enabled") or False
        redirects = automatic_params.choice("allow_redirects", {"always", "never"}) or "always"
        if not enabled:
            return ["card"], None
        return ["card"], {"allow_redirects": redirects, "enabled": True}

    @staticmethod
    def _apply_shared(intent: PaymentIntent, params: Params) -> None:
        """The params both create and confirm may set; all are validated before any is set."""
        capture = params.choice("capture_method", {"automatic", "automatic_async", "manual"})
        if capture == "manual":
            raise invalid_request(
                "The Stripe sandbox does not support capture_method=manual; "
                "it only models automatic capture.",
                param="capture_method",
            )
        receipt_email = params.string("receipt_email") or None
        setup_future_usage = params.choice("setup_future_usage", {"off_session", "on_session"})
        shipping = params.raw("shipping")
        if capture is not None:
            intent.capture_method = capture
        if "receipt_email" in params:
            intent.receipt_email = receipt_email
        if "setup_future_usage" in params:
            intent.setup_future_usage = setup_future_usage
        if "shipping" in params:
            intent.shipping = shipping

    @staticmethod
    def _ignored_flags(params: Params) -> None:
        """Validate the flags Stripe accepts but which change nothing for a server-side card."""
        params.boolean("use_stripe_sdk")
        params.boolean("error_on_requires_action")
        params.hash("payment_method_options")
        params.hash("radar_options")

    @staticmethod
    def _check_confirmable(
        payment_method: PaymentMethod | None, automatic: JsonDict | None, return_url: str | None
    ) -> None:
        if payment_method is None:
            raise unexpected_state(
                "You cannot confirm this PaymentIntent because it's missing a payment method. "
                "Update the PaymentIntent with a payment method, or confirm it again with "
                "payment_method or payment_method_data."
            )
        if automatic and automatic.get("allow_redirects") != "never" and not return_url:
            raise invalid_request(
                "A `return_url` must be specified because this PaymentIntent is configured with "
                "automatic payment methods that allow redirects, and some of them may need a "
                "full page redirect. To accept only payment methods without redirects, create "
                "the PaymentIntent with `automatic_payment_methods[enabled]=true` and "
                "`automatic_payment_methods[allow_redirects]=never` (or with "
                "`payment_method_types`).",
                param="return_url",
            )

    def _attempt_charge(self, intent: PaymentIntent) -> None:
        """Charge the intent's card; on a decline record the failure, then raise it (402)."""
        payment_method = intent.payment_method
        assert payment_method is not None
        charge = Charge(
            id=new_id("ch"),
            amount=intent.amount,
            currency=intent.currency,
            payment_intent=intent.id,
            payment_method=payment_method,
            created=self._now(),
            metadata=dict(intent.metadata),
            description=intent.description,
        )
        self.charges[charge.id] = charge
        intent.latest_charge = charge.id
        decline = payment_method.card.decline
        if decline is None:
            intent.status = "succeeded"
            intent.last_payment_error = None
            return
        failure = StripeApiError(
            402,
            "card_error",
            decline.message,
            code=decline.code,
            decline_code=decline.decline_code,
            param=decline.param,
            extra={"charge": charge.id, "payment_method": payment_method.to_json()},
        )
        charge.failure = failure
        intent.status = "requires_payment_method"
        intent.payment_method = None
        intent.last_payment_error = failure.error_object()
        failure.extra["payment_intent"] = intent.to_json()
        raise failure

    # payment methods -----------------------------------------------------------------------

    def _resolve_payment_method(self, params: Params) -> PaymentMethod | None:
        payment_method_id = params.string("payment_method") or None
        data = params.hash("payment_method_data")
        if payment_method_id is not None and data is not None:
            raise invalid_request(
                "You may only specify one of these parameters: payment_method, "
                "payment_method_data.",
                param="payment_method_data",
            )
        if payment_method_id is not None:
            return self._payment_method(payment_method_id)
        if data is not None:
            return self._payment_method_from_data(data)
        return None

    def _payment_method(self, payment_method_id: str) -> PaymentMethod:
        existing = self.payment_methods.get(payment_method_id)
        if existing is not None:
            return existing
        card = card_for_magic_payment_method(payment_method_id)
        if card is None:
            raise resource_missing(
                "PaymentMethod", payment_method_id, param="payment_method", http_status=400
            )
        return self._new_payment_method(card, None, {})

    def _payment_method_from_data(self, data: Params) -> PaymentMethod:
        data.check_known(PAYMENT_METHOD_DATA_PARAMS)
        method_type = data.string("type", required=True)
        if method_type != "card":
            raise invalid_request(
                f"Invalid {data.name('type')}: the Stripe sandbox only supports card "
                f"(got {method_type}).",
                param=data.name("type"),
            )
        card_params = data.hash("card", required=True)
        assert card_params is not None
        card_params.check_known({"token"})
        token = card_params.string("token", required=True) or ""
        card = card_for_token(token)
        if card is None:
            raise resource_missing("token", token, param=card_params.name("token"), http_status=400)
        data.choice("allow_redisplay", {"always", "limited", "unspecified"})
        billing = data.hash("billing_details")
        if billing is not None:
            billing.check_known({"address", "email", "name", "phone", "tax_id"})
        return self._new_payment_method(card, data.raw("billing_details"), data.metadata())

    def _new_payment_method(
        self, card: CardProfile, billing_details: ParamValue | None, metadata: dict[str, str]
    ) -> PaymentMethod:
        payment_method = PaymentMethod(
            id=new_id("pm"),
            card=card,
            created=self._now(),
            billing_details=billing_details,
            metadata=metadata,
        )
        self.payment_methods[payment_method.id] = payment_method
        return payment_method

    # charges -------------------------------------------------------------------------------

    def retrieve_charge(self, charge_id: str, params: Params) -> JsonDict:
        params.check_known({"expand"})
        charge = self.charges.get(charge_id)
        if charge is None:
            raise resource_missing("charge", charge_id, param="id", http_status=404)
        return self._expanded(charge.to_json(), params.expand(CHARGE_EXPANSIONS))

    def list_charges(self, params: Params) -> JsonDict:
        params.check_known(_PAGING_PARAMS | {"payment_intent", "customer", "transfer_group"})
        params.reject_unsupported({"customer", "transfer_group"})
        intent_id = params.string("payment_intent")
        charges = [c for c in self.charges.values() if intent_id in (None, c.payment_intent)]
        return self._page(
            charges, params, url="/v1/charges", kind="charge", expansions=CHARGE_EXPANSIONS
        )

    def successful_charges(self) -> list[JsonDict]:
        """Every charge that moved money, oldest first: the sandbox's inspection view."""
        return [
            {
                "id": charge.id,
                "payment_intent": charge.payment_intent,
                "amount": charge.amount,
                "currency": charge.currency,
                "amount_refunded": charge.amount_refunded,
                "refunded": charge.refunded,
                "metadata": dict(charge.metadata),
                "payment_method": charge.payment_method.id,
                "created": charge.created,
            }
            for charge in self.charges.values()
            if charge.succeeded
        ]

    # refunds -------------------------------------------------------------------------------

    def create_refund(self, params: Params) -> JsonDict:
        params.check_known(REFUND_CREATE_PARAMS | REFUND_CREATE_UNSUPPORTED)
        params.reject_unsupported(REFUND_CREATE_UNSUPPORTED)
        expand = params.expand(REFUND_EXPANSIONS)
        metadata = params.metadata()
        reason = params.choice("reason", REFUND_REASONS)
        amount = params.integer("amount")
        if amount is not None and amount <= 0:
            raise invalid_request("Invalid positive integer", param="amount")
        charge = self._refundable_charge(
            params.string("payment_intent") or None, params.string("charge") or None
        )
        remaining = charge.amount - charge.amount_refunded
        if remaining == 0:
            raise invalid_request(
                f"Charge {charge.id} has already been refunded.",
                param="charge",
                code="charge_already_refunded",
            )
        if amount is None:
            amount = remaining
        if amount > remaining:
            raise invalid_request(
                f"Refund amount ({format_amount(amount, charge.currency)}) is greater than "
                f"unrefunded amount on charge ({format_amount(remaining, charge.currency)})",
                param="amount",
            )
        refund = Refund(
            id=new_id("re"),
            amount=amount,
            charge=charge.id,
            payment_intent=charge.payment_intent,
            currency=charge.currency,
            created=self._now(),
            metadata=metadata,
            reason=reason,
        )
        self.refunds[refund.id] = refund
        charge.amount_refunded += amount
        return self._expanded(refund.to_json(), expand)

    def _refundable_charge(self, intent_id: str | None, charge_id: str | None) -> Charge:
        if intent_id is None and charge_id is None:
            raise invalid_request(
                "One of the following params should be provided for this request: "
                "payment_intent or charge."
            )
        if charge_id is not None:
            charge = self.charges.get(charge_id)
            if charge is None:
                raise resource_missing("charge", charge_id, param="charge", http_status=400)
            if intent_id is not None and intent_id != charge.payment_intent:
                raise invalid_request(
                    f"Charge {charge_id} does not belong to PaymentIntent {intent_id}.",
                    param="charge",
                )
            if not charge.succeeded:
                raise invalid_request(
                    f"Charge {charge_id} has failed and cannot be refunded.", param="charge"
                )
            return charge
        assert intent_id is not None
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise resource_missing(
                "payment_intent", intent_id, param="payment_intent", http_status=400
            )
        latest = self.charges.get(intent.latest_charge or "")
        if intent.status != "succeeded" or latest is None or not latest.succeeded:
            raise invalid_request(
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund. "
                f"Its status is {intent.status}.",
                param="payment_intent",
                code="payment_intent_unexpected_state",
            )
        return latest

    def retrieve_refund(self, refund_id: str, params: Params) -> JsonDict:
        params.check_known({"expand"})
        refund = self.refunds.get(refund_id)
        if refund is None:
            raise resource_missing("refund", refund_id, param="id", http_status=404)
        return self._expanded(refund.to_json(), params.expand(REFUND_EXPANSIONS))

    def list_refunds(self, params: Params) -> JsonDict:
        params.check_known(_PAGING_PARAMS | {"payment_intent", "charge"})
        intent_id = params.string("payment_intent")
        charge_id = params.string("charge")
        refunds = [
            refund
            for refund in self.refunds.values()
            if intent_id in (None, refund.payment_intent) and charge_id in (None, refund.charge)
        ]
        return self._page(
            refunds, params, url="/v1/refunds", kind="refund", expansions=REFUND_EXPANSIONS
        )

    # shared: expansion and paging ----------------------------------------------------------

    def _expanded(self, body: JsonDict, fields: Iterable[str]) -> JsonDict:
        for name in fields:
            value = body.get(name)
            if isinstance(value, str):
                body[name] = self._object_json(value)
        return body

    def _object_json(self, object_id: str) -> JsonDict | str:
        found: _Listable | None = (
            self.payment_intents.get(object_id)
            or self.charges.get(object_id)
            or self.payment_methods.get(object_id)
            or self.refunds.get(object_id)
        )
        return found.to_json() if found is not None else object_id

    def _page(
        self,
        objects: Iterable[_T],
        params: Params,
        *,
        url: str,
        kind: str,
        expansions: frozenset[str],
    ) -> JsonDict:
        """A Stripe list, newest first, with ``limit``/``starting_after``/``ending_before``."""
        expand = params.expand({f"data.{name}" for name in expansions})
        limit = params.integer("limit")
        if limit is None:
            limit = 10
        if not 1 <= limit <= 100:
            raise invalid_request(
                "Invalid limit: must be between 1 and 100",
                param="limit",
                code="parameter_invalid_integer",
            )
        keep = self._created_filter(params)
        newest_first = [obj for obj in reversed(list(objects)) if keep(obj.created)]
        ids = [obj.id for obj in newest_first]
        starting_after = params.string("starting_after") or None
        ending_before = params.string("ending_before") or None
        if starting_after is not None and ending_before is not None:
            raise invalid_request(
                "You may only specify one of these parameters: ending_before, starting_after.",
                param="ending_before",
            )
        if starting_after is not None:
            after = self._cursor(ids, starting_after, kind, "starting_after") + 1
            window = newest_first[after : after + limit]
            has_more = after + limit < len(newest_first)
        elif ending_before is not None:
            before = self._cursor(ids, ending_before, kind, "ending_before")
            window = newest_first[max(0, before - limit) : before]
            has_more = before - limit > 0
        else:
            window = newest_first[:limit]
            has_more = limit < len(newest_first)
        fields = [name.removeprefix("data.") for name in expand]
        return {
            "object": "list",
            "data": [self._expanded(obj.to_json(), fields) for obj in window],
            "has_more": has_more,
            "url": url,
        }

    @staticmethod
    def _cursor(ids: list[str], cursor: str, kind: str, param: str) -> int:
        try:
            return ids.index(cursor)
        except ValueError:
            raise resource_missing(kind, cursor, param=param, http_status=400) from None

    @staticmethod
    def _created_filter(params: Params) -> Callable[[int], bool]:
        if "created" not in params:
            return lambda _created: True
        if isinstance(params.tree["created"], str):
            exact = params.integer("created")
            return lambda created: created == exact
        bounds = params.hash("created")
        assert bounds is not None
        bounds.check_known({"gt", "gte", "lt", "lte"})
        gt, gte = bounds.integer("gt"), bounds.integer("gte")
        lt, lte = bounds.integer("lt"), bounds.integer("lte")
        return lambda created: (
            (gt is None or created > gt)
            and (gte is None or created >= gte)
            and (lt is None or created < lt)
            and (lte is None or created <= lte)
        )
