"""Which emails an event causes, to whom, saying what; and how an SMTP answer is judged.

Pure rules, no I/O. The emails (templates in ``templates/``):

- ``welcome``: to a new user (``user.created``);
- ``order_reserved``: to the buyer when an order reserves a ticket (``order.created``), with
  the deadline in UTC and a link to the order page;
- ``receipt``: to the buyer when the order completes (``order.completed``: the payment
  succeeded), with the ticket, the amount and the Stripe id;
- ``ticket_sold``: to the seller, for the same ``order.completed``;
- ``reservation_ended``: to the buyer when an unpaid order is cancelled (``order.cancelled``).
  The event carries no reason; orders cancels for expiry only at or after ``expiresAt`` (DESIGN
  §5), so a cancellation from then on says "expired", an earlier one (the buyer's DELETE) says
  "cancelled". If a payment raced the expiry, the email says it is refunded (payments refunds it).

The receipt follows ``order.completed`` rather than ``payment.created``: a charge that lost the
race against the expiry is refunded and its order never completes, so its buyer gets the
"expired" email and no receipt for a ticket they do not get. A banned user gets no email.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

if TYPE_CHECKING:  # type hints only: the rules read rows but must not load SQLAlchemy
    from ticketing.notifications.models import Order

WELCOME, RESERVED, RECEIPT, SOLD, ENDED = (
    "welcome",
    "order_reserved",
    "receipt",
    "ticket_sold",
    "reservation_ended",
)


@dataclass(frozen=True)
class Recipient:
    user_id: UUID
    email: str
    banned: bool = False


@dataclass(frozen=True)
class Email:
    template: str  # templates/<template>.txt and .html
    recipient: Recipient
    subject: str
    context: Mapping[str, Any]


@dataclass(frozen=True)
class Site:
    """What every email may mention about the site: its public URL and its currency."""

    base_url: str
    currency: str

    def order_url(self, order_id: UUID) -> str:
        return f"{self.base_url.rstrip('/')}/orders/{order_id}"

    def money(self, amount: Decimal) -> str:
        return f"{amount:.2f} {self.currency.upper()}"


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def welcome(user: Recipient, site: Site) -> list[Email]:
    context = {"email": user.email, "home_url": site.base_url}
    return _unbanned([Email(WELCOME, user, "Welcome to Ticketing", context)])


def order_reserved(buyer: Recipient, order: Order, title: str, site: Site) -> list[Email]:
    deadline = utc(order.expires_at)
    context = {
        "title": title,
        "amount": site.money(order.price),
        "deadline": deadline,
        "order_url": site.order_url(order.id),
    }
    subject = f"Reserved: {title} (pay by {deadline})"
    return _unbanned([Email(RESERVED, buyer, subject, context)])


def order_completed(
    buyer: Recipient, seller: Recipient, order: Order, title: str, stripe_id: str, site: Site
) -> list[Email]:
    amount = site.money(order.price)
    receipt = {
        "title": title,
        "amount": amount,
        "stripe_id": stripe_id,
        "order_url": site.order_url(order.id),
    }
    sold = {"title": title, "amount": amount, "home_url": site.base_url}
    return _unbanned(
        [
            Email(RECEIPT, buyer, f"Receipt: {title}", receipt),
            Email(SOLD, seller, f"Sold: {title}", sold),
        ]
    )


def was_unpaid(status_before: str) -> bool:
    """Only an order still waiting for its payment ends with a 'reservation ended' email."""
    return status_before == "created"


def reservation_ended(
    buyer: Recipient,
    order: Order,
    title: str,
    *,
    cancelled_at: datetime,
    refunded: bool,
    site: Site,
) -> list[Email]:
    expired = cancelled_at >= order.expires_at
    context = {
        "title": title,
        "expired": expired,
        "deadline": utc(order.expires_at),
        "refunded": refunded,
        "amount": site.money(order.price),
        "home_url": site.base_url,
    }
    subject = f"Your reservation of {title} {'expired' if expired else 'was cancelled'}"
    return _unbanned([Email(ENDED, buyer, subject, context)])


def _unbanned(emails: list[Email]) -> list[Email]:
    return [email for email in emails if not email.recipient.banned]


def is_too_old(occurred_at: datetime, now: datetime, max_age: timedelta) -> bool:
    """An event this old sends nothing: its news is stale, and a new deployment catching up
    on the stream's history must not mail every user the platform ever had."""
    return now - occurred_at > max_age


def message_id(event_id: UUID, recipient: str, domain: str) -> str:
    """The same (event, recipient) always gets the same Message-ID, so a copy is recognisable."""
    digest = hashlib.sha256(f"{event_id}:{recipient}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


class Verdict(Enum):
    RETRY = "retry"  # try again later: the relay or our side may recover
    REJECT = "reject"  # permanent for this email: record it, never retry


SmtpStage = Literal["connect", "sender", "recipient", "data"]


def judge(code: int, stage: SmtpStage) -> Verdict:
    """RFC 5321 §4.2.1: 4yz is transient. A 5yz for the recipient (RCPT) or the message (DATA)
    is permanent for this email; a 5yz while connecting, authenticating or at MAIL FROM says our
    configuration is wrong, which an operator fixes: retried, not dropped."""
    if 500 <= code < 600 and stage in ("recipient", "data"):
        return Verdict.REJECT
    return Verdict.RETRY


def retry_delay(attempts: int, backoff: Sequence[float]) -> timedelta:
    """The wait after the ``attempts``-th failed attempt (the last backoff value repeats)."""
    return timedelta(seconds=backoff[min(max(attempts, 1), len(backoff)) - 1])
