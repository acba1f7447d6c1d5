"""Session tokens (``common.auth``): what a token of ours carries, and that anything else is
no session at all, never an exception (every service verifies with this one class)."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

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
        {"iat": "yesterday"},
        {"iat": None},
        {"exp": datetime.now(UTC) - timedelta(seconds=1)},
        {"exp": True},
        {"nbf": datetime.now(UTC) + timedelta(hours=1)},
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
        "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.e30.AAAA",  # our header, a short signature
        "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9." + "[" * 3000 + ".sig",  # nested JSON, unsigned
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


def test_a_token_with_another_header_or_an_hmac_of_our_public_key_is_no_session(
    keys: KeyPair,
) -> None:
    verifier = TokenVerifier(keys.public_pem)
    _, payload, _ = signed(keys).split(".")
    with_kid = signed_with_header(keys, {"alg": "EdDSA", "typ": "JWT", "kid": "1"})
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}').decode()
    mac = hmac.new(keys.public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    hs256 = f"{header}.{payload}.{jwt.utils.base64url_encode(mac.digest()).decode()}"

    assert verifier.verify_session(with_kid) is None
    assert verifier.verify_session(hs256) is None


def test_a_signature_in_anything_but_plain_base64url_is_no_session(keys: KeyPair) -> None:
    header, payload, signature = sign_session_token(USER, keys.private_pem).split(".")
    verifier = TokenVerifier(keys.public_pem)

    assert verifier.verify_session(f"{header}.{payload}.{signature}") is not None
    for spoiled in (signature + "==", signature[:10] + "+" + signature[10:], f" {signature}"):
        assert verifier.verify_session(f"{header}.{payload}.{spoiled}") is None


def test_our_keys_and_tokens_are_what_pyjwt_and_cryptography_read(keys: KeyPair) -> None:
    token = sign_session_token(USER, keys.private_pem)

    public_key = serialization.load_pem_public_key(keys.public_pem.encode())
    private_key = serialization.load_pem_private_key(keys.private_pem.encode(), password=None)
    assert isinstance(public_key, Ed25519PublicKey)
    assert isinstance(private_key, Ed25519PrivateKey)
    claims = jwt.decode(token, public_key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER)

    assert private_key.public_key() == public_key
    assert claims["sub"] == str(USER.id) and claims["email"] == USER.email


def test_keys_written_by_cryptography_sign_and_verify_sessions() -> None:
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    session = TokenVerifier(public_pem).verify_session(sign_session_token(USER, private_pem))

    assert session is not None and session.user == USER


def test_a_key_that_is_not_an_ed25519_public_key_is_refused_at_start(keys: KeyPair) -> None:
    rsa_pem = (
        generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    for not_ours in (
        rsa_pem,
        keys.private_pem,
        "",
        "-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----",
    ):
        with pytest.raises(ValueError, match=r"not an? (PEM|Ed25519) public key"):
            TokenVerifier(not_ours)


def signed_with_header(keys: KeyPair, header: dict[str, str]) -> str:
    claims = jwt.decode(signed(keys), options={"verify_signature": False})
    return jwt.encode(claims, keys.private_pem, algorithm=ALGORITHM, headers=header)
