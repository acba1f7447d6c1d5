"""Which card a PaymentIntent request pays with, read from its params as Stripe reads them.

``payment_method`` names a PaymentMethod: a magic test one (``pm_card_visa``) or one the
sandbox made earlier. ``payment_method_data[type]=card`` with ``[card][token]=tok_visa`` makes
a new PaymentMethod from a legacy test token. Giving both is an error, as at Stripe.
"""

from __future__ import annotations

from ticketing.stripe_sandbox.cards import card_for_magic_payment_method, card_for_token
from ticketing.stripe_sandbox.errors import invalid_request, resource_missing
from ticketing.stripe_sandbox.objects import PaymentMethod, new_id
from ticketing.stripe_sandbox.params import Params

PAYMENT_METHOD_DATA_PARAMS = frozenset({"type", "card", "metadata"})


def resolve_payment_method(
    params: Params, known: dict[str, PaymentMethod], now: int
) -> PaymentMethod | None:
    """The request's PaymentMethod (new ones are added to ``known``), or None if it names none."""
    payment_method_id = params.string("payment_method") or None
    data = params.hash("payment_method_data")
    if payment_method_id is not None and data is not None:
        raise invalid_request(
            "You may only specify one of these parameters: payment_method, payment_method_data.",
            param="payment_method_data",
        )
    if payment_method_id is not None:
        existing = known.get(payment_method_id)
        if existing is not None:
            return existing
        card = card_for_magic_payment_method(payment_method_id)
        if card is None:
            raise resource_missing(
                "PaymentMethod", payment_method_id, param="payment_method", http_status=400
            )
        metadata: dict[str, str] = {}
    elif data is not None:
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
        metadata = data.metadata()
    else:
        return None
    payment_method = PaymentMethod(id=new_id("pm"), card=card, created=now, metadata=metadata)
    known[payment_method.id] = payment_method
    return payment_method
