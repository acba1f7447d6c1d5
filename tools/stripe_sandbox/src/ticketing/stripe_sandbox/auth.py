"""Stripe's API key check: a test-mode secret key, as Bearer (what the SDK sends) or as the
username of Basic auth (what curl -u sends), with Stripe's messages for each way to get it wrong.
"""

from __future__ import annotations

import base64
import binascii

from ticketing.stripe_sandbox.errors import authentication_failed

TEST_SECRET_KEY_PREFIX = "sk_test_"
_NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). The Stripe "
    "sandbox accepts any test-mode secret key (sk_test_...)."
)
_PUBLISHABLE_KEY_MESSAGE = (
    "This API call cannot be made with a publishable API key. Please use a secret API key "
    "(sk_test_...)."
)


def authenticate(authorization: str | None) -> None:
    """Return if ``authorization`` carries a test secret key; raise Stripe's 401 otherwise."""
    if not authorization:
        raise authentication_failed(_NO_KEY_MESSAGE)
    scheme, _, credentials = authorization.strip().partition(" ")
    key = credentials.strip()
    if scheme.lower() == "basic":
        try:
            key = base64.b64decode(key, validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            raise authentication_failed(_NO_KEY_MESSAGE) from None
    elif scheme.lower() != "bearer":
        raise authentication_failed(_NO_KEY_MESSAGE)
    if not key:
        raise authentication_failed(_NO_KEY_MESSAGE)
    if key.startswith("pk_"):
        raise authentication_failed(_PUBLISHABLE_KEY_MESSAGE)
    if not key.startswith(TEST_SECRET_KEY_PREFIX) or key == TEST_SECRET_KEY_PREFIX:
        raise authentication_failed(f"Invalid API Key provided: {_redact(key)}")


def _redact(key: str) -> str:
    """The key as Stripe echoes it: its prefix and last four characters, the rest starred."""
    prefix, separator, secret = key.rpartition("_")
    if not separator:
        prefix, secret = "", key
    else:
        prefix += separator
    visible = secret[-4:] if len(secret) > 8 else ""
    return prefix + "*" * (len(secret) - len(visible)) + visible
