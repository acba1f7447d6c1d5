"""The sandbox's in-memory Stripe account: PaymentIntents, charges, refunds and their rules.

Everything Stripe would decide lives here, with no HTTP in sight: how confirming charges a test
card, when the card is declined, how much may still be refunded and how lists page (which params
each endpoint accepts: ``accepted_params``; the objects and their JSON: ``objects``; amounts:
``money``). Every operation takes the
request's ``Params`` and returns the JSON body of the answer, or raises ``StripeApiError``
(a decline is raised *after* the failed attempt is recorded, as Stripe does). The ledger is not
synchronised itself: ``app.py`` holds one ``asyncio.Lock`` around every state change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from ticketing.stripe_sandbox.accepted_params import (
    CANCELABLE,
    CANCELLATION_REASONS,
    CHARGE_EXPANSIONS,
    CONFIRMABLE,
    PAGING_PARAMS,
    PAYMENT_INTENT_CONFIRM_PARAMS,
    PAYMENT_INTENT_CREATE_PARAMS,
    PAYMENT_INTENT_CREATE_UNSUPPORTED,
    PAYMENT_INTENT_EXPANSIONS,
    PAYMENT_INTENT_UNSUPPORTED,
    PAYMENT_METHOD_DATA_PARAMS,
    REFUND_CREATE_PARAMS,
    REFUND_CREATE_UNSUPPORTED,
    REFUND_EXPANSIONS,
    REFUND_REASONS,
    SUPPORTED_PAYMENT_METHOD_TYPES,
)
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
from ticketing.stripe_sandbox.money import (
    CURRENCY_CODE,
    DEFAULT_MINIMUM_AMOUNT,
    MAXIMUM_AMOUNT,
    MINIMUM_AMOUNTS,
    format_amount,
)
from ticketing.stripe_sandbox.objects import (
    Charge,
    PaymentIntent,
    PaymentMethod,
    Refund,
    new_id,
    random_suffix,
)
from ticketing.stripe_sandbox.params import Params, ParamValue


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
        if not CURRENCY_CODE.match(currency):
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
        params.check_known(PAYMENT_INTENT_CONFIRM_PARAMS | PAYMENT_INTENT_UNSUPPORTED)
        params.reject_unsupported(PAYMENT_INTENT_UNSUPPORTED)
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
        params.check_known(PAGING_PARAMS | {"customer", "customer_account"})
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
        params.check_known(PAGING_PARAMS | {"payment_intent", "customer", "transfer_group"})
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
        params.check_known(PAGING_PARAMS | {"payment_intent", "charge"})
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
