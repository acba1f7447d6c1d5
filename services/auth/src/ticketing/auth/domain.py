"""Auth rules: what a valid email and password are, and how passwords are kept (argon2)."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email

PASSWORD_MIN, PASSWORD_MAX = 8, 128
_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures take the same time.
_DECOY_HASH = _hasher.hash("decoy password for unknown emails")


def normalize_email(raw: str) -> str:
    """The canonical form we store and compare: validated syntax, lower-cased."""
    try:
        email = validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError("must be a valid email address") from exc
    return email.lower()


def check_password_policy(password: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise ValueError(f"must be between {PASSWORD_MIN} and {PASSWORD_MAX} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; with no hash (unknown user) burns the same time, False."""
    try:
        return _hasher.verify(password_hash or _DECOY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
