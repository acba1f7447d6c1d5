"""The sandbox's in-memory Stripe account: PaymentIntents, charges, refunds and their rules.

Everything Stripe would decide lives here, with no HTTP in sight: when a card is charged, when
it needs 3-D Secure first, when it is declined, how much may still be refunded. Operations take
the request's ``Params`` and return the JSON body of the answer, or raise ``StripeApiError`` (a
decline is raised *after* the failed attempt is recorded, as Stripe does). Each change Stripe
would announce is appended to ``events`` (a Stripe event object), which the app drains and hands
to webhook delivery. The ledger is not synchronised itself: the app holds one lock around every
operation.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ticketing.stripe_sandbox.errors import (
    JsonDict,
    StripeApiError,
    invalid_request,
    resource_missing,
    unexpected_state,
)
from ticketing.stripe_sandbox.money import validate_amount
from ticketing.stripe_sandbox.objects import Charge, PaymentIntent, PaymentMethod, Refund, new_id
from ticketing.stripe_sandbox.params import Params
from ticketing.stripe_sandbox.payment_intents import (
    CANCELABLE,
    CANCELLATION_REASONS,
    CONFIRM_PARAMS,
    CONFIRMABLE,
    CREATE_PARAMS,
    authentication_required,
    next_action,
    payment_method_settings,
    require_confirmable,
)
from ticketing.stripe_sandbox.payment_methods import resolve_payment_method
from ticketing.stripe_sandbox.refunds import create_refund

API_VERSION = "2026-10-28.endive"  # the version the pinned stripe SDK speaks


class Ledger:
    """One test-mode Stripe account held in memory."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.payment_methods: dict[str, PaymentMethod] = {}
        self.payment_intents: dict[str, PaymentIntent] = {}
        self.charges: dict[str, Charge] = {}
        self.refunds: dict[str, Refund] = {}
        self.refund_failures: set[str] = set()
        self.events: list[JsonDict] = []

    def reset(self) -> None:
        for table in (self.payment_methods, self.payment_intents, self.charges, self.refunds):
            table.clear()
        self.refund_failures.clear()
        self.events.clear()

    def take_events(self) -> list[JsonDict]:
        """The events recorded since the last call, oldest first."""
        events, self.events = self.events, []
        return events

    def now(self) -> int:
        return int(self._clock())

    # payment intents -----------------------------------------------------------------------

    def create_payment_intent(self, params: Params, site: str) -> JsonDict:
        """POST /v1/payment_intents; ``site`` is the sandbox's base URL, for the 3DS page."""
        params.check_known(CREATE_PARAMS)
        currency = (params.string("currency", required=True) or "").lower()
        amount = validate_amount(params.integer("amount", required=True) or 0, currency)
        types, automatic = payment_method_settings(params)
        confirm = params.boolean("confirm") or False
        payment_method = resolve_payment_method(params, self.payment_methods, self.now())
        intent = PaymentIntent(
            id=new_id("pi"),
            amount=amount,
            currency=currency,
            created=self.now(),
            metadata=params.metadata(),
            payment_method_types=types,
            automatic_payment_methods=automatic,
            client_secret="",
            description=params.string("description") or None,
        )
        intent.client_secret = f"{intent.id}_secret_{new_id('s')[2:]}"
        if confirm:
            require_confirmable(payment_method, automatic, params.string("return_url"))
            params.boolean("error_on_requires_action")
        elif "error_on_requires_action" in params or "return_url" in params:
            raise invalid_request(
                "return_url and error_on_requires_action can only be passed when confirm=true.",
                param="return_url" if "return_url" in params else "error_on_requires_action",
            )
        if payment_method is not None:
            intent.payment_method = payment_method
            intent.status = "requires_confirmation"
        self.payment_intents[intent.id] = intent
        if confirm:
            self._confirm(intent, params, site)
        return intent.to_json()

    def confirm_payment_intent(self, intent_id: str, params: Params, site: str) -> JsonDict:
        intent = self.intent(intent_id)
        params.check_known(CONFIRM_PARAMS)
        if intent.status not in CONFIRMABLE:
            raise unexpected_state(
                "You cannot confirm this PaymentIntent because it has a status of "
                f"{intent.status}. Only a PaymentIntent with one of the following statuses "
                f"may be confirmed: {', '.join(CONFIRMABLE)}."
            )
        payment_method = resolve_payment_method(params, self.payment_methods, self.now())
        payment_method = payment_method or intent.payment_method
        return_url = params.string("return_url")
        require_confirmable(payment_method, intent.automatic_payment_methods, return_url)
        params.boolean("error_on_requires_action")
        intent.payment_method = payment_method
        self._confirm(intent, params, site)
        return intent.to_json()

    def cancel_payment_intent(self, intent_id: str, params: Params) -> JsonDict:
        intent = self.intent(intent_id)
        params.check_known({"cancellation_reason"})
        reason = params.choice("cancellation_reason", CANCELLATION_REASONS)
        if intent.status not in CANCELABLE:
            raise unexpected_state(
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent.status}. Only a PaymentIntent with one of the following statuses "
                f"may be canceled: {', '.join(CANCELABLE)}."
            )
        intent.status = "canceled"
        intent.next_action = None
        intent.canceled_at = self.now()
        intent.cancellation_reason = reason
        return intent.to_json()

    def retrieve_payment_intent(self, intent_id: str, params: Params) -> JsonDict:
        intent = self.intent(intent_id)
        params.check_known({"client_secret"})
        return intent.to_json()

    def intent(self, intent_id: str) -> PaymentIntent:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise resource_missing("payment_intent", intent_id, param="intent", http_status=404)
        return intent

    def _confirm(self, intent: PaymentIntent, params: Params, site: str) -> None:
        """Charge now, or first send the buyer to authenticate if the card wants 3-D Secure."""
        assert intent.payment_method is not None
        intent.last_payment_error = None
        if not intent.payment_method.card.requires_authentication:
            self._raise(self._charge(intent))
            return
        if params.boolean("error_on_requires_action"):
            self._raise(self._fail(intent, authentication_required(intent.payment_method)))
        intent.return_url = params.string("return_url") or None
        intent.status = "requires_action"
        intent.next_action = next_action(intent, site)
        self.emit("payment_intent.requires_action", intent.to_json())

    # 3-D Secure ----------------------------------------------------------------------------

    def awaiting_authentication(self, intent_id: str) -> PaymentIntent:
        """The intent, if its buyer is due on the authentication page; raises otherwise."""
        intent = self.intent(intent_id)
        if intent.status != "requires_action":
            raise unexpected_state(
                f"This PaymentIntent ({intent_id}) is not awaiting authentication: its status "
                f"is {intent.status}."
            )
        return intent

    def complete_authentication(self, intent_id: str) -> PaymentIntent:
        """The buyer passed 3-D Secure: the charge is attempted, as a confirm would."""
        intent = self.awaiting_authentication(intent_id)
        intent.next_action = None
        self._charge(intent)
        return intent

    def fail_authentication(self, intent_id: str) -> PaymentIntent:
        intent = self.awaiting_authentication(intent_id)
        assert intent.payment_method is not None
        failure = StripeApiError(
            402,
            "card_error",
            "We are unable to authenticate your payment method. Please choose a different "
            "payment method and try again.",
            code="payment_intent_authentication_failure",
            extra={"payment_method": intent.payment_method.to_json()},
        )
        self._fail(intent, failure)
        return intent

    # charges -------------------------------------------------------------------------------

    def _charge(self, intent: PaymentIntent) -> StripeApiError | None:
        """Charge the intent's card; a decline is recorded on the intent and returned."""
        payment_method = intent.payment_method
        assert payment_method is not None
        charge = Charge(
            id=new_id("ch"),
            amount=intent.amount,
            currency=intent.currency,
            payment_intent=intent.id,
            payment_method=payment_method,
            created=self.now(),
            metadata=dict(intent.metadata),
        )
        self.charges[charge.id] = charge
        intent.latest_charge = charge.id
        decline = payment_method.card.decline
        if decline is None:
            intent.status = "succeeded"
            intent.last_payment_error = None
            self.emit("payment_intent.succeeded", intent.to_json())
            return None
        charge.failure = StripeApiError(
            402,
            "card_error",
            decline.message,
            code=decline.code,
            decline_code=decline.decline_code,
            param=decline.param or None,
            extra={"charge": charge.id, "payment_method": payment_method.to_json()},
        )
        return self._fail(intent, charge.failure)

    def _fail(self, intent: PaymentIntent, failure: StripeApiError) -> StripeApiError:
        """The attempt failed: the intent wants a new payment method, and says why."""
        intent.status = "requires_payment_method"
        intent.payment_method = None
        intent.next_action = None
        intent.last_payment_error = failure.error_object()
        failure.extra["payment_intent"] = intent.to_json()
        self.emit("payment_intent.payment_failed", intent.to_json())
        return failure

    @staticmethod
    def _raise(failure: StripeApiError | None) -> None:
        if failure is not None:
            raise failure

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

    def create_refund(self, params: Params) -> JsonDict:
        return create_refund(self, params)

    def fail_refunds_of(self, intent_id: str) -> None:
        """From now on every refund of the intent fails, as for a disputed charge."""
        self.intent(intent_id)
        self.refund_failures.add(intent_id)

    def emit(self, event_type: str, obj: JsonDict) -> None:
        """Record a Stripe event about ``obj`` (its JSON now) for webhook delivery."""
        self.events.append(
            {
                "id": new_id("evt"),
                "object": "event",
                "api_version": API_VERSION,
                "created": self.now(),
                "data": {"object": obj},
                "livemode": False,
                "pending_webhooks": 0,
                "request": {"id": None, "idempotency_key": None},
                "type": event_type,
            }
        )
