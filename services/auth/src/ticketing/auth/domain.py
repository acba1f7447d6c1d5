"""Auth rules: what a valid email and password are, when two emails are the same, who is an
admin, and when sign-ins are throttled. No I/O.

An email has two forms. The one we store and show is validated and lower-cased. Its *key*,
NFKC-normalised and case-folded, is its identity: ``alice@Example.com`` typed in full-width
letters and ``alice@example.com`` have one key, so they are one account (the key is unique in
the database), and sign-ins are counted per key.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email

PASSWORD_MIN, PASSWORD_MAX = 8, 128
EMAIL_MAX = 320  # RFC 5321's limit; also the width of the stored forms


def email_key(email: str) -> str:
    """The identity of an email: NFKC, case folding, NFKC again (folding can un-normalise)."""
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


def _encodable(text: str) -> str:
    # JSON may carry a lone surrogate ("\ud800"): no database column or hash can take it.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid text") from exc
    return text


def check_sign_in_email(raw: str) -> str:
    """Any text that could be someone's email (an unknown one is just wrong credentials)."""
    _encodable(raw)
    if len(email_key(raw)) > EMAIL_MAX:
        raise ValueError(f"must be at most {EMAIL_MAX} characters")
    return raw


def normalize_email(raw: str) -> str:
    """The form we store and show: NFKC, validated syntax, lower-cased."""
    check_sign_in_email(raw)
    try:
        email = validate_email(
            unicodedata.normalize("NFKC", raw.strip()), check_deliverability=False
        ).normalized
    except EmailNotValidError as exc:
        raise ValueError("must be a valid email address") from exc
    return email.lower()


def check_password_policy(password: str) -> str:
    """Checked before any hashing: a 10 MB "password" is refused, never hashed."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise ValueError(f"must be between {PASSWORD_MIN} and {PASSWORD_MAX} characters")
    return _encodable(password)


def is_admin(email: str, admin_emails: Iterable[str]) -> bool:
    return email_key(email) in {email_key(admin) for admin in admin_emails}


def seconds_until_allowed(
    blocking_failure: datetime | None, *, window: timedelta, now: datetime
) -> int | None:
    """None when a sign-in may proceed; else whole seconds until ``blocking_failure`` (the
    failure that reaches the limit) leaves the window and the count drops below the limit."""
    if blocking_failure is None:
        return None
    return max(1, math.ceil((blocking_failure + window - now).total_seconds()))
