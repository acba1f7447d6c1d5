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

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request, Response

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
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private_pem=private_pem, public_pem=public_pem)


def sign_session_token(
    user: CurrentUser,
    private_key_pem: str,
    ttl: timedelta = DEFAULT_SESSION_TTL,
    *,
    session_id: UUID | None = None,
) -> str:
    """A new session's token; each sign-in is a session of its own (a fresh ``jti``)."""
    now = utcnow()
    claims = {
        "sub": str(user.id),
        "email": user.email,
        "iat": now,
        "exp": now + ttl,
        "jti": str(session_id or uuid4()),
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    return jwt.encode(claims, private_key_pem, algorithm=ALGORITHM)


class TokenVerifier:
    """Verifies session tokens with the public key only; anything doubtful is no session."""

    def __init__(self, public_key_pem: str) -> None:
        self._key = serialization.load_pem_public_key(public_key_pem.encode())

    def verify_session(self, token: str | None) -> UserSession | None:
        # A cookie is ASCII; anything else (Starlette hands us latin-1) is not one of ours.
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return None
        try:
            claims = jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]
                algorithms=[ALGORITHM],  # pinned: refuses "alg: none" and HS256 tricks
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": REQUIRED_CLAIMS},
            )
            return _session_from(claims)
        except (jwt.PyJWTError, ValueError, OverflowError, OSError):
            return None

    def verify(self, token: str | None) -> CurrentUser | None:
        session = self.verify_session(token)
        return None if session is None else session.user


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
