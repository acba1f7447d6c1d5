"""What the pages decide, without I/O: can this ticket be bought, how long is left to pay."""

from __future__ import annotations

from datetime import datetime, timedelta

from ticketing.client.schemas import ListingStatus, Order, Ticket, User

PAYABLE_STATUSES = ("created", "awaiting:payment")
TEST_CARDS = (
    ("tok_visa", "Visa 4242 (tok_visa)"),
    ("tok_chargeDeclined", "Declined card (tok_chargeDeclined)"),
    ("tok_threeDSecure2Required", "3-D Secure card (tok_threeDSecure2Required)"),
)


def ticket_status(ticket: Ticket, listing: Ticket | None) -> ListingStatus:
    """The tickets service decides free or not; the read model, once it knows, tells sold."""
    if ticket.order_id is None:
        return "available"
    if listing is not None and listing.status in ("reserved", "sold"):
        return listing.status
    return "reserved"


def is_seller(ticket: Ticket, viewer: User | None) -> bool:
    return viewer is not None and viewer.id == ticket.user_id


def can_purchase(status: ListingStatus, ticket: Ticket, viewer: User | None) -> bool:
    return status == "available" and not is_seller(ticket, viewer)


def time_left(order: Order, now: datetime) -> timedelta:
    return max(order.expires_at - now, timedelta(0))


def format_time_left(left: timedelta) -> str:
    """``mm:ss`` (minutes keep counting past 59: a window is minutes long, not hours)."""
    minutes, seconds = divmod(int(left.total_seconds()), 60)
    return f"{minutes:02d}:{seconds:02d}"


def is_payable(order: Order, now: datetime) -> bool:
    return order.status in PAYABLE_STATUSES and order.expires_at > now


def has_expired(order: Order, now: datetime) -> bool:
    """Cancelled by the clock, or past its window and about to be."""
    return order.status != "complete" and order.expires_at <= now
