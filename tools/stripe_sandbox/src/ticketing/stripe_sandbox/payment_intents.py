"""Stripe's stateless rules for PaymentIntents: accepted params, which statuses allow what,
payment method settings, and the shapes of ``next_action`` and of ``authentication_required``.

Unknown params are refused (``parameter_unknown``), as Stripe does, so a request the sandbox
accepts is one Stripe accepts too; only what payments sends is modelled.
"""

from __future__ import annotations

from ticketing.stripe_sandbox.errors import (
    JsonDict,
    StripeApiError,
    invalid_request,
    unexpected_state,
)
from ticketing.stripe_sandbox.objects import PaymentIntent, PaymentMethod, new_id
from ticketing.stripe_sandbox.params import Params

CONFIRM_PARAMS = frozenset(
    {"payment_method", "payment_method_data", "return_url", "error_on_requires_action"}
)
CREATE_PARAMS = CONFIRM_PARAMS | {
    "amount",
    "currency",
    "confirm",
    "payment_method_types",
    "automatic_payment_methods",
    "metadata",
    "description",
}
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
CANCELLATION_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer", "abandoned"})
AUTHENTICATION_PATH = "/_sandbox/3ds/{intent_id}"


def payment_method_settings(params: Params) -> tuple[list[str], JsonDict | None]:
    """``payment_method_types`` and ``automatic_payment_methods``, defaulted like Stripe.

    Since API version 2023-08-16 a PaymentIntent created without ``payment_method_types``
    has ``automatic_payment_methods`` enabled, allowing redirects.
    """
    types = params.string_list("payment_method_types")
    automatic = params.hash("automatic_payment_methods")
    if types is not None and automatic is not None:
        raise invalid_request(
            "You may only specify one of these parameters: automatic_payment_methods, "
            "payment_method_types.",
            param="automatic_payment_methods",
        )
    if types is not None:
        if any(method_type != "card" for method_type in types):
            raise invalid_request(
                f"The payment method types provided: {', '.join(types)} are invalid. "
                "The Stripe sandbox only supports card.",
                param="payment_method_types",
            )
        return ["card"], None
    if automatic is None:
        return ["card"], {"allow_redirects": "always", "enabled": True}
    automatic.check_known({"enabled", "allow_redirects"})
    automatic.require("enabled")
    redirects = automatic.choice("allow_redirects", {"always", "never"}) or "always"
    if not automatic.boolean("enabled"):
        return ["card"], None
    return ["card"], {"allow_redirects": redirects, "enabled": True}


def require_confirmable(
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
            "automatic payment methods that allow redirects, and some of them may need a full "
            "page redirect. To accept only payment methods without redirects, create the "
            "PaymentIntent with `automatic_payment_methods[enabled]=true` and "
            "`automatic_payment_methods[allow_redirects]=never` (or with "
            "`payment_method_types`).",
            param="return_url",
        )


def next_action(intent: PaymentIntent, site: str) -> JsonDict:
    """Where the buyer authenticates: a redirect given a ``return_url``, else Stripe.js's job."""
    url = site.rstrip("/") + AUTHENTICATION_PATH.format(intent_id=intent.id)
    if intent.return_url:
        return {
            "type": "redirect_to_url",
            "redirect_to_url": {"url": url, "return_url": intent.return_url},
        }
    return {
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {
            "type": "three_d_secure_redirect",
            "stripe_js": url,
            "source": new_id("src"),
        },
    }


def authentication_required(payment_method: PaymentMethod) -> StripeApiError:
    """Stripe's answer to ``error_on_requires_action=true`` for a card that needs 3-D Secure."""
    return StripeApiError(
        402,
        "card_error",
        "Your card was declined. This transaction requires authentication.",
        code="authentication_required",
        decline_code="authentication_required",
        extra={"payment_method": payment_method.to_json()},
    )
