"""Refunds as Stripe makes them: all or part of a PaymentIntent's successful charge, never more
than was charged, and never for an intent the sandbox was told to treat as disputed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ticketing.stripe_sandbox.errors import JsonDict, invalid_request, resource_missing
from ticketing.stripe_sandbox.money import format_amount
from ticketing.stripe_sandbox.objects import Charge, Refund, new_id
from ticketing.stripe_sandbox.params import Params

if TYPE_CHECKING:
    from ticketing.stripe_sandbox.ledger import Ledger

REFUND_PARAMS = frozenset({"payment_intent", "amount", "metadata", "reason"})
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
DISPUTED_MESSAGE = "The charge you're attempting to refund has been charged back."


def create_refund(ledger: Ledger, params: Params) -> JsonDict:
    """POST /v1/refunds: give back all or part of an intent's successful charge."""
    params.check_known(REFUND_PARAMS)
    metadata = params.metadata()
    reason = params.choice("reason", REFUND_REASONS)
    amount = params.integer("amount")
    if amount is not None and amount <= 0:
        raise invalid_request("Invalid positive integer", param="amount")
    charge = _refundable_charge(ledger, params.string("payment_intent", required=True) or "")
    if charge.payment_intent in ledger.refund_failures:
        raise invalid_request(DISPUTED_MESSAGE, code="charge_disputed")
    remaining = charge.amount - charge.amount_refunded
    if remaining == 0:
        raise invalid_request(
            f"Charge {charge.id} has already been refunded.",
            param="charge",
            code="charge_already_refunded",
        )
    amount = remaining if amount is None else amount
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
        created=ledger.now(),
        metadata=metadata,
        reason=reason,
    )
    ledger.refunds[refund.id] = refund
    charge.amount_refunded += amount
    ledger.emit("charge.refunded", charge.to_json())
    return refund.to_json()


def _refundable_charge(ledger: Ledger, intent_id: str) -> Charge:
    intent = ledger.payment_intents.get(intent_id)
    if intent is None:
        raise resource_missing("payment_intent", intent_id, param="payment_intent", http_status=400)
    latest = ledger.charges.get(intent.latest_charge or "")
    if intent.status != "succeeded" or latest is None or not latest.succeeded:
        raise invalid_request(
            f"This PaymentIntent ({intent_id}) does not have a successful charge to refund. "
            f"Its status is {intent.status}.",
            param="payment_intent",
            code="payment_intent_unexpected_state",
        )
    return latest
