"""Stripe's test cards: which magic ``tok_*`` / ``pm_card_*`` ids exist and what charging them does.

Each test card is reachable as the token ``tok_<name>`` (used as
``payment_method_data[card][token]``) and as the PaymentMethod ``pm_card_<name>``, exactly as in
Stripe test mode. Both the current decline names (``pm_card_visa_chargeDeclined``) and the older
ones (``pm_card_chargeDeclined``, ``tok_chargeDeclinedInsufficientFunds``) are known. Cards that
need 3-D Secure (``requires_authentication``) put a PaymentIntent in ``requires_action`` until
the buyer completes the sandbox's authentication page; their ``decline``, if any, applies after.
"""

from __future__ import annotations

from dataclasses import dataclass

TOKEN_PREFIX = "tok_"
PAYMENT_METHOD_PREFIX = "pm_card_"


@dataclass(frozen=True)
class Decline:
    """How the issuer refuses a charge: Stripe's ``code``, ``decline_code`` and message."""

    code: str
    decline_code: str
    message: str
    param: str = ""


@dataclass(frozen=True)
class CardProfile:
    brand: str
    last4: str
    funding: str = "credit"
    country: str = "US"
    decline: Decline | None = None
    requires_authentication: bool = False


_DECLINED = Decline("card_declined", "generic_decline", "Your card was declined.")
_INSUFFICIENT_FUNDS = Decline(
    "card_declined", "insufficient_funds", "Your card has insufficient funds."
)
_LOST = Decline("card_declined", "lost_card", "Your card was declined.")
_STOLEN = Decline("card_declined", "stolen_card", "Your card was declined.")
_FRAUDULENT = Decline("card_declined", "fraudulent", "Your card was declined.")
_EXPIRED = Decline("expired_card", "expired_card", "Your card has expired.", "exp_month")
_INCORRECT_CVC = Decline(
    "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.", "cvc"
)
_PROCESSING_ERROR = Decline(
    "processing_error",
    "processing_error",
    "An error occurred while processing your card. Try again in a little bit.",
)

TEST_CARDS: dict[str, CardProfile] = {
    "visa": CardProfile("visa", "4242"),
    "visa_debit": CardProfile("visa", "5556", funding="debit"),
    "mastercard": CardProfile("mastercard", "4444"),
    "mastercard_debit": CardProfile("mastercard", "8210", funding="debit"),
    "mastercard_prepaid": CardProfile("mastercard", "5100", funding="prepaid"),
    "amex": CardProfile("amex", "0005"),
    "discover": CardProfile("discover", "1117"),
    "diners": CardProfile("diners", "0004"),
    "jcb": CardProfile("jcb", "0505", country="JP"),
    "unionpay": CardProfile("unionpay", "0005", country="CN"),
    "chargeDeclined": CardProfile("visa", "0002", decline=_DECLINED),
    "chargeDeclinedInsufficientFunds": CardProfile("visa", "9995", decline=_INSUFFICIENT_FUNDS),
    "chargeDeclinedLostCard": CardProfile("visa", "9987", decline=_LOST),
    "chargeDeclinedStolenCard": CardProfile("visa", "9979", decline=_STOLEN),
    "chargeDeclinedFraudulent": CardProfile("visa", "0019", decline=_FRAUDULENT),
    "chargeDeclinedExpiredCard": CardProfile("visa", "0069", decline=_EXPIRED),
    "chargeDeclinedIncorrectCvc": CardProfile("visa", "0127", decline=_INCORRECT_CVC),
    "chargeDeclinedProcessingError": CardProfile("visa", "0119", decline=_PROCESSING_ERROR),
    # 4000 0027 6000 3184: 3-D Secure 2 on every payment; under both of Stripe's names.
    "threeDSecure2Required": CardProfile("visa", "3184", requires_authentication=True),
    "authenticationRequired": CardProfile("visa", "3184", requires_authentication=True),
    "threeDSecureRequired": CardProfile("visa", "3063", requires_authentication=True),
    # 4000 0082 6000 3178: authenticates, then the issuer declines it.
    "authenticationRequiredChargeDeclinedInsufficientFunds": CardProfile(
        "visa", "3178", decline=_INSUFFICIENT_FUNDS, requires_authentication=True
    ),
}
# Stripe also names four declining cards after their brand (``tok_visa_chargeDeclined``).
TEST_CARDS |= {
    f"visa_{name}": TEST_CARDS[name]
    for name in (
        "chargeDeclined",
        "chargeDeclinedInsufficientFunds",
        "chargeDeclinedLostCard",
        "chargeDeclinedStolenCard",
    )
}


def card_for_token(token: str) -> CardProfile | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    return TEST_CARDS.get(token.removeprefix(TOKEN_PREFIX))


def card_for_magic_payment_method(payment_method: str) -> CardProfile | None:
    if not payment_method.startswith(PAYMENT_METHOD_PREFIX):
        return None
    return TEST_CARDS.get(payment_method.removeprefix(PAYMENT_METHOD_PREFIX))
