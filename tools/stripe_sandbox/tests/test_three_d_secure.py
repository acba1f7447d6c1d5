"""Cards that need 3-D Secure: ``requires_action`` with a redirect to the sandbox's test page,
where the buyer completes or fails authentication and is sent back, as at Stripe."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
import stripe
from sandbox_client import RETURN_URL, card_payment, charges, token

AUTHENTICATION_CARDS = [
    {"payment_method": "pm_card_threeDSecure2Required"},
    token("tok_threeDSecure2Required"),
    {"payment_method": "pm_card_authenticationRequired"},
    token("tok_authenticationRequired"),
]
DECLINED_AFTER_AUTHENTICATION = {
    "payment_method": "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds"
}


class Forms(HTMLParser):
    """The forms of a page as a browser sees them: ``{button text: (method, action)}``."""

    def __init__(self) -> None:
        super().__init__()
        self.buttons: dict[str, tuple[str, str]] = {}
        self._form: tuple[str, str] | None = None
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self._form = ((values.get("method") or "get").lower(), values.get("action") or "")
        self._in_button = tag == "button"

    def handle_data(self, data: str) -> None:
        if self._in_button and self._form is not None:
            self.buttons[data.strip()] = self._form

    def handle_endtag(self, tag: str) -> None:
        self._in_button = self._in_button and tag != "button"


def requires_action(client: stripe.StripeClient, card: dict[str, Any], **extra: Any) -> Any:
    return client.v1.payment_intents.create(params=card_payment(**card, **extra))


def press(page_url: str, button: str) -> httpx.Response:
    """Open the authentication page and press ``button``, as the buyer's browser would."""
    page = httpx.get(page_url)
    assert page.status_code == 200, page.text
    forms = Forms()
    forms.feed(page.text)
    method, action = forms.buttons[button]
    assert method == "post"
    return httpx.post(urljoin(page_url, action))


def returned_to(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location._replace(query="").geturl() == "http://shop.test/orders/1"
    return parse_qs(location.query)


@pytest.mark.parametrize("card", AUTHENTICATION_CARDS, ids=lambda card: str(card)[-40:])
def test_error_on_requires_action_turns_authentication_into_a_card_error(
    client: stripe.StripeClient, base_url: str, card: dict[str, Any]
) -> None:
    with pytest.raises(stripe.CardError) as raised:
        requires_action(client, card, error_on_requires_action=True)

    error = raised.value
    assert (error.http_status, error.code) == (402, "authentication_required")
    assert error.user_message == "Your card was declined. This transaction requires authentication."
    assert error.error is not None and error.error.payment_intent is not None
    stored = client.v1.payment_intents.retrieve(error.error.payment_intent.id)
    assert stored.status == "requires_payment_method"
    assert stored.last_payment_error is not None
    assert stored.last_payment_error.code == "authentication_required"
    assert charges(base_url) == []


@pytest.mark.parametrize("card", AUTHENTICATION_CARDS, ids=lambda card: str(card)[-40:])
def test_with_a_return_url_the_buyer_is_redirected_to_authenticate(
    client: stripe.StripeClient, base_url: str, card: dict[str, Any]
) -> None:
    intent = requires_action(client, card, return_url=RETURN_URL)

    assert intent.status == "requires_action"
    assert intent.next_action is not None
    assert intent.next_action.to_dict() == {
        "type": "redirect_to_url",
        "redirect_to_url": {
            "url": f"{base_url}/_sandbox/3ds/{intent.id}",
            "return_url": RETURN_URL,
        },
    }
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_action"
    assert charges(base_url) == []


def test_without_a_return_url_authentication_is_left_to_stripe_js(
    client: stripe.StripeClient, base_url: str
) -> None:
    intent = requires_action(client, {"payment_method": "pm_card_threeDSecure2Required"})

    assert intent.status == "requires_action"
    assert intent.next_action is not None and intent.next_action.type == "use_stripe_sdk"
    page = press(intent.next_action.use_stripe_sdk["stripe_js"], "Complete")
    assert page.status_code == 200
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


@pytest.mark.parametrize(
    ("return_url", "query"),
    [(RETURN_URL, {"tab": ["payment"]}), ("http://shop.test/orders/1", {})],
    ids=["with a query string", "without"],
)
def test_completing_authentication_charges_and_sends_the_buyer_back(
    client: stripe.StripeClient, base_url: str, return_url: str, query: dict[str, list[str]]
) -> None:
    intent = requires_action(client, AUTHENTICATION_CARDS[0], return_url=return_url)

    back = returned_to(press(intent.next_action.redirect_to_url.url, "Complete"))

    assert back == {
        **query,
        "payment_intent": [intent.id],
        "payment_intent_client_secret": [intent.client_secret],
        "redirect_status": ["succeeded"],
    }
    paid = client.v1.payment_intents.retrieve(intent.id)
    assert (paid.status, paid.amount_received, paid.next_action) == ("succeeded", 2500, None)
    assert [(c["id"], c["payment_intent"]) for c in charges(base_url)] == [
        (paid.latest_charge, intent.id)
    ]


def test_failing_authentication_leaves_the_intent_payable_with_another_card(
    client: stripe.StripeClient, base_url: str
) -> None:
    intent = requires_action(client, AUTHENTICATION_CARDS[1], return_url=RETURN_URL)

    back = returned_to(press(intent.next_action.redirect_to_url.url, "Fail"))

    assert back["redirect_status"] == ["failed"]
    failed = client.v1.payment_intents.retrieve(intent.id)
    assert (failed.status, failed.next_action) == ("requires_payment_method", None)
    assert failed.last_payment_error is not None
    assert (failed.last_payment_error.type, failed.last_payment_error.code) == (
        "card_error",
        "payment_intent_authentication_failure",
    )
    assert failed.last_payment_error.message == (
        "We are unable to authenticate your payment method. Please choose a different "
        "payment method and try again."
    )
    assert charges(base_url) == []
    paid = client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert paid.status == "succeeded"


def test_a_card_can_be_declined_after_authentication(
    client: stripe.StripeClient, base_url: str
) -> None:
    intent = requires_action(client, DECLINED_AFTER_AUTHENTICATION, return_url=RETURN_URL)
    assert intent.status == "requires_action"

    back = returned_to(press(intent.next_action.redirect_to_url.url, "Complete"))

    assert back["redirect_status"] == ["failed"]
    declined = client.v1.payment_intents.retrieve(intent.id)
    assert declined.status == "requires_payment_method"
    assert declined.last_payment_error is not None
    assert declined.last_payment_error.code == "card_declined"
    assert declined.last_payment_error.decline_code == "insufficient_funds"
    assert charges(base_url) == []


def test_the_page_of_an_intent_not_awaiting_authentication_changes_nothing(
    client: stripe.StripeClient, base_url: str
) -> None:
    paid = client.v1.payment_intents.create(params=card_payment(payment_method="pm_card_visa"))
    page_url = f"{base_url}/_sandbox/3ds/{paid.id}"

    page = httpx.get(page_url)
    pressed = [httpx.post(f"{page_url}/{outcome}") for outcome in ("complete", "fail")]

    assert page.status_code == 400
    assert "not awaiting authentication" in page.text
    assert [response.status_code for response in pressed] == [400, 400]
    assert client.v1.payment_intents.retrieve(paid.id).status == "succeeded"
    assert len(charges(base_url)) == 1
    assert httpx.get(f"{base_url}/_sandbox/3ds/pi_unknown").status_code == 404


def test_an_intent_awaiting_authentication_can_be_canceled(
    client: stripe.StripeClient, base_url: str
) -> None:
    intent = requires_action(client, AUTHENTICATION_CARDS[0], return_url=RETURN_URL)

    canceled = client.v1.payment_intents.cancel(intent.id)

    assert (canceled.status, canceled.next_action) == ("canceled", None)
    assert httpx.post(f"{base_url}/_sandbox/3ds/{intent.id}/complete").status_code == 400
    assert client.v1.payment_intents.retrieve(intent.id).status == "canceled"
    assert charges(base_url) == []
