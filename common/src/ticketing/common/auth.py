"""Sessions: EdDSA-signed JWTs in an HttpOnly ``session`` cookie, verified locally everywhere.

Only the auth service holds the private key and signs; every other service verifies with the
public key, without calling auth. A token names its issuer and audience (a token of ours for
something else is not a session) and carries a session id (``jti``) so that a session can end
before its ``exp``: the token of a banned user (``user.banned``) or of a signed-out session
(``session.revoked``) is refused by every service as soon as its consumer has recorded it
(``ticketing.common.revocation``).

Anything doubtful about a cookie (absent, malformed, non-ASCII, tampered, foreign, expired,
revoked, banned) means signed out, never an error.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import Depends, Request, Response
from nacl.exceptions import CryptoError
from nacl.signing import SigningKey, VerifyKey

from ticketing.common.contracts import utcnow
from ticketing.common.errors import NotAuthorizedError

SESSION_COOKIE = "session"
ALGORITHM = "EdDSA"
ISSUER = "ticketing-auth"
AUDIENCE = "ticketing"
REQUIRED_CLAIMS = ["sub", "email", "iat", "exp", "jti", "iss", "aud"]
DEFAULT_SESSION_TTL = timedelta(days=1)
MAX_TOKEN_LENGTH = 4096  # a browser keeps no longer cookie; ours are ~400 characters


@dataclass(frozen=True)
class CurrentUser:
    id: UUID
    email: str


@dataclass(frozen=True)
class UserSession:
    """A verified session token: who, which session (the ``jti``), until when (``exp``)."""

    user: CurrentUser
    id: UUID
    expires_at: datetime


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


def generate_key_pair() -> KeyPair:
    """A fresh Ed25519 key pair as PEM text (dev and tests; production keys come from secrets)."""
    key = SigningKey.generate()
    return KeyPair(
        private_pem=_pem("PRIVATE KEY", _PKCS8_ED25519 + bytes(key)),
        public_pem=_pem("PUBLIC KEY", _SPKI_ED25519 + bytes(key.verify_key)),
    )


def sign_session_token(
    user: CurrentUser,
    private_key_pem: str,
    ttl: timedelta = DEFAULT_SESSION_TTL,
    *,
    session_id: UUID | None = None,
) -> str:
    """A new session's token; each sign-in is a session of its own (a fresh ``jti``)."""
    now = int(utcnow().timestamp())
    claims = {
        "sub": str(user.id),
        "email": user.email,
        "iat": now,
        "exp": now + int(ttl.total_seconds()),
        "jti": str(session_id or uuid4()),
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    key = SigningKey(_der_key(private_key_pem, "PRIVATE KEY", _PKCS8_ED25519))
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signed = f"{_HEADER}.{payload}"
    return f"{signed}.{_b64url(key.sign(signed.encode()).signature)}"


class TokenVerifier:
    """Verifies session tokens with the public key only; anything doubtful is no session.

    A token is a JWS in compact form (RFC 7515) with exactly our header, ``EdDSA`` over
    Ed25519 (RFC 8037), checked by libsodium (PyNaCl) before a byte of its claims is parsed.
    Not PyJWT over ``cryptography``: that Rust library was ~9 MiB of every process that
    verifies a cookie, most of them (``benchmarks/analysis.md``, fix 32); tests check that
    PyJWT and ``cryptography`` read our keys and tokens, and that we read theirs."""

    def __init__(self, public_key_pem: str) -> None:
        self._key = VerifyKey(_der_key(public_key_pem, "PUBLIC KEY", _SPKI_ED25519))

    def verify_session(self, token: str | None) -> UserSession | None:
        # A cookie is ASCII; anything else (Starlette hands us latin-1) is not one of ours.
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return None
        try:
            return _session_from(self._verified_claims(token))
        except (CryptoError, ValueError, KeyError, TypeError, OverflowError, OSError):
            return None

    def verify(self, token: str | None) -> CurrentUser | None:
        session = self.verify_session(token)
        return None if session is None else session.user

    def _verified_claims(self, token: str) -> dict[str, Any]:
        header, payload, signature = token.split(".")  # ValueError unless three parts
        if header != _HEADER:  # pinned: no "alg: none", no HS256 keyed with our public key
            raise ValueError("not our header")
        self._key.verify(f"{header}.{payload}".encode(), _b64url_decoded(signature))
        claims = json.loads(_b64url_decoded(payload))
        if not isinstance(claims, dict):
            raise ValueError("the claims are not an object")
        _check_registered_claims(claims, utcnow().timestamp())
        return claims


_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_PKCS8_ED25519 = bytes.fromhex("302e020100300506032b657004220420")  # RFC 8410, then the seed
_SPKI_ED25519 = bytes.fromhex("302a300506032b6570032100")  # RFC 8410, then the public key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_HEADER = _b64url(b'{"alg":"%s","typ":"JWT"}' % ALGORITHM.encode())  # as PyJWT writes it


def _b64url_decoded(segment: str) -> bytes:
    if not _B64URL.fullmatch(segment):  # the decoder would skip foreign characters
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _pem(label: str, der: bytes) -> str:
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def _der_key(pem: str, label: str, prefix: bytes) -> bytes:
    """The 32 key bytes of an Ed25519 key in PEM (PKCS#8 or SubjectPublicKeyInfo, as OpenSSL
    and ``cryptography`` write them); ValueError for anything else."""
    lines = pem.strip().splitlines()
    if (
        len(lines) < 3
        or lines[0] != f"-----BEGIN {label}-----"
        or lines[-1] != f"-----END {label}-----"
    ):
        raise ValueError(f"not a PEM {label.lower()}")
    try:
        der = base64.b64decode("".join(lines[1:-1]), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not a PEM {label.lower()}") from exc
    if len(der) != len(prefix) + 32 or not der.startswith(prefix):
        raise ValueError(f"not an Ed25519 {label.lower()}")
    return der[len(prefix) :]


def _check_registered_claims(claims: dict[str, Any], now: float) -> None:
    """What PyJWT checked for us: every claim we sign is there, ours by issuer and audience,
    not expired, not issued in the future (nor used before ``nbf``, if given)."""
    if missing := [name for name in REQUIRED_CLAIMS if name not in claims]:
        raise ValueError(f"missing claims: {missing}")
    if claims["iss"] != ISSUER or claims["aud"] != AUDIENCE:
        raise ValueError("not issued by us for us")
    exp, iat, nbf = claims["exp"], claims["iat"], claims.get("nbf", 0)
    if not all(_is_number(value) for value in (exp, iat, nbf)):
        raise ValueError("exp, iat and nbf must be numbers")
    if exp <= now or iat > now or nbf > now:
        raise ValueError("expired, or not valid yet")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _session_from(claims: dict[str, Any]) -> UserSession:
    """The claims as typed values; ValueError when one is not what we sign (even if signed)."""
    sub, email, jti, exp = claims["sub"], claims["email"], claims["jti"], claims["exp"]
    if not (isinstance(sub, str) and isinstance(email, str) and isinstance(jti, str)):
        raise ValueError("sub, email and jti must be strings")
    if not isinstance(exp, int):
        raise ValueError("exp must be an integer")
    return UserSession(
        user=CurrentUser(id=UUID(sub), email=email),
        id=UUID(jti),
        expires_at=datetime.fromtimestamp(exp, UTC),
    )


def set_session_cookie(response: Response, token: str, *, secure: bool, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=secure, path="/")


async def current_session(request: Request) -> UserSession | None:
    """The request's session, or None: no valid token, a revoked session or a banned user."""
    runtime = request.app.state.runtime
    session: UserSession | None = runtime.token_verifier.verify_session(
        request.cookies.get(SESSION_COOKIE)
    )
    if session is not None and await runtime.refuses(session):
        return None
    return session


async def current_user(
    session: Annotated[UserSession | None, Depends(current_session)],
) -> CurrentUser | None:
    """The signed-in user, or None (see ``current_session``)."""
    return None if session is None else session.user


async def require_user(
    user: Annotated[CurrentUser | None, Depends(current_user)],
) -> CurrentUser:
    if user is None:
        raise NotAuthorizedError()
    return user


OptionalSession = Annotated[UserSession | None, Depends(current_session)]
OptionalUser = Annotated[CurrentUser | None, Depends(current_user)]
RequiredUser = Annotated[CurrentUser, Depends(require_user)]
