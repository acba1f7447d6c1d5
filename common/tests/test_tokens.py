"""Session tokens (``common.auth``): what a token of ours carries, and that anything else is
no session at all, never an exception (every service verifies with this one class)."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import jwt
import pytest

from ticketing.common.auth import (
    ALGORITHM,
    AUDIENCE,
    ISSUER,
    CurrentUser,
    KeyPair,
    TokenVerifier,
    generate_key_pair,
    sign_session_token,
)

USER = CurrentUser(id=uuid4(), email="a@example.com")


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return generate_key_pair()


def signed(keys: KeyPair, **changes: Any) -> str:
    """A token signed with our key whose claims differ from ours by ``changes`` (None: drop)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(USER.id),
        "email": USER.email,
        "iat": now,
        "exp": now + timedelta(hours=1),
        "jti": str(uuid4()),
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    claims.update(changes)
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, keys.private_pem, algorithm=ALGORITHM
    )


def test_a_token_of_ours_is_a_session_with_its_id_and_expiry(keys: KeyPair) -> None:
    session_id = uuid4()

    token = sign_session_token(USER, keys.private_pem, timedelta(hours=2), session_id=session_id)
    session = TokenVerifier(keys.public_pem).verify_session(token)

    assert session is not None
    assert session.user == USER
    assert session.id == session_id
    assert (
        timedelta(hours=1, minutes=59)
        < session.expires_at - datetime.now(UTC)
        <= timedelta(hours=2)
    )


def test_each_new_token_is_a_new_session(keys: KeyPair) -> None:
    verifier = TokenVerifier(keys.public_pem)

    first = verifier.verify_session(sign_session_token(USER, keys.private_pem))
    second = verifier.verify_session(sign_session_token(USER, keys.private_pem))

    assert first is not None and second is not None
    assert isinstance(first.id, UUID) and first.id != second.id


def _claim_id(changes: dict[str, Any]) -> str:
    """A stable test id (pytest-xdist workers must collect the same tests): a generated
    value shows as its type."""
    return ",".join(
        f"{claim}={value!r}"
        if isinstance(value, str | int | None)
        else f"{claim}:{type(value).__name__}"
        for claim, value in changes.items()
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "someone-else"},
        {"aud": "another-app"},
        {"iss": None},
        {"aud": None},
        {"jti": None},
        {"jti": "not-a-uuid"},
        {"jti": 42},
        {"sub": "not-a-uuid"},
        {"sub": 42},
        {"sub": {"id": str(uuid4())}},
        {"email": ["a@example.com"]},
        {"email": None},
        {"exp": None},
        {"exp": "tomorrow"},
        {"exp": 10**20},
        {"iat": datetime.now(UTC) + timedelta(hours=1)},
    ],
    ids=_claim_id,
)
def test_a_token_signed_by_us_with_other_claims_is_no_session(
    keys: KeyPair, changes: dict[str, Any]
) -> None:
    assert TokenVerifier(keys.public_pem).verify_session(signed(keys, **changes)) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b.c",
        "a.b.c.d.e",
        "\u00e9t\u00e9.\u00ff\u00fe.\x00",  # non-ASCII, as Starlette hands over latin-1 bytes
        "eyJhbGciOiJFZERTQSJ9.W10.",  # a JSON array as claims, no signature
        "x" * 100_000,
    ],
    ids=lambda token: repr(token[:20]),
)
def test_a_malformed_token_is_no_session(keys: KeyPair, token: str) -> None:
    assert TokenVerifier(keys.public_pem).verify_session(token) is None


def test_a_tampered_token_is_no_session(keys: KeyPair) -> None:
    header, _, signature = sign_session_token(USER, keys.private_pem).split(".")
    forged = jwt.utils.base64url_encode(b'{"sub": "%s"}' % str(uuid4()).encode()).decode()

    assert TokenVerifier(keys.public_pem).verify_session(f"{header}.{forged}.{signature}") is None


def test_a_token_signed_with_another_key_or_none_is_no_session(keys: KeyPair) -> None:
    verifier = TokenVerifier(keys.public_pem)
    unsigned = jwt.encode(
        {"sub": str(USER.id), "email": USER.email, "exp": 9999999999},
        key=None,  # type: ignore[arg-type]
        algorithm="none",
    )

    assert (
        verifier.verify_session(sign_session_token(USER, generate_key_pair().private_pem)) is None
    )
    assert verifier.verify_session(unsigned) is None
