"""Which params each Stripe endpoint the sandbox serves accepts (unknown ones are refused,
as Stripe does)."""

from __future__ import annotations

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
PAYMENT_INTENT_UNSUPPORTED = frozenset(
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
PAYMENT_INTENT_CREATE_UNSUPPORTED = PAYMENT_INTENT_UNSUPPORTED | {
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
PAGING_PARAMS = frozenset({"limit", "starting_after", "ending_before", "created", "expand"})

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
