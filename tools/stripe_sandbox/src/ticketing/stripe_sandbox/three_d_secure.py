"""The sandbox's 3-D Secure test page, like Stripe's: the buyer completes or fails authentication.

``GET /_sandbox/3ds/{pi}`` shows two buttons, "Complete" and "Fail", each a form POSTing to
``.../complete`` or ``.../fail``. The POST answers 303 to the PaymentIntent's ``return_url``
with Stripe's query parameters appended (``payment_intent``, ``payment_intent_client_secret``,
``redirect_status``), or, for an intent confirmed without a return URL, with a page saying so.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

from ticketing.stripe_sandbox.money import format_amount
from ticketing.stripe_sandbox.objects import PaymentIntent

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; }}
form {{ display: inline; }}
button {{ font-size: 1rem; padding: .5rem 1.5rem; margin-right: .5rem; }}
</style></head>
<body><h1>{title}</h1>{body}</body>
</html>
"""


def page(title: str, body_html: str) -> str:
    return _PAGE.format(title=escape(title), body=body_html)


def authentication_page(intent: PaymentIntent) -> str:
    card = intent.payment_method.card if intent.payment_method else None
    last4 = f" ending in {escape(card.last4)}" if card else ""
    action = f"/_sandbox/3ds/{escape(intent.id)}"
    return page(
        "3D Secure 2 test page",
        f"<p>Stripe sandbox: authenticate the payment of "
        f"<strong>{escape(format_amount(intent.amount, intent.currency))}</strong> "
        f"with the card{last4}.</p>"
        f'<form method="post" action="{action}/complete">'
        '<button type="submit">Complete</button></form>'
        f'<form method="post" action="{action}/fail">'
        '<button type="submit">Fail</button></form>',
    )


def message_page(title: str, message: str) -> str:
    return page(title, f"<p>{escape(message)}</p>")


def redirect_status(intent: PaymentIntent) -> str:
    return "succeeded" if intent.status == "succeeded" else "failed"


def return_location(intent: PaymentIntent) -> str | None:
    """Where the buyer goes back to after authenticating, as Stripe sends them there."""
    if not intent.return_url:
        return None
    parts = urlsplit(intent.return_url)
    added = urlencode(
        {
            "payment_intent": intent.id,
            "payment_intent_client_secret": intent.client_secret,
            "redirect_status": redirect_status(intent),
        }
    )
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit(parts._replace(query=query))
