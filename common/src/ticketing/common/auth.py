"""Sessions: EdDSA-signed JWTs in an HttpOnly ``session`` cookie, verified locally everywhere.

Only the auth service holds the private key and signs; every other service verifies with the
public key, without calling auth. A user banned through ``user.banned`` is refused by every
service as soon as its consumer has recorded the ban, although the token has not expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request, Response

from ticketing.common.contracts import utcnow
from ticketing.common.errors import NotAuthorizedError

SESSION_COOKIE = "session"
ALGORITHM = "EdDSA"
DEFAULT_SESSION_TTL = timedelta(days=1)


@dataclass(frozen=True)
class CurrentUser:
    id: UUID
    email: str


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
    user: CurrentUser, private_key_pem: str, ttl: timedelta = DEFAULT_SESSION_TTL
) -> str:
    now = utcnow()
    claims = {"sub": str(user.id), "email": user.email, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, private_key_pem, algorithm=ALGORITHM)


class TokenVerifier:
    """Verifies session tokens with the public key only; anything doubtful is no session."""

    def __init__(self, public_key_pem: str) -> None:
        self._key = serialization.load_pem_public_key(public_key_pem.encode())

    def verify(self, token: str | None) -> CurrentUser | None:
        if not token:
            return None
        try:
            claims = jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]
                algorithms=[
                    ALGORITHM
                ],  # pinning the algorithm refuses "alg: none" and HS256 tricks
                options={"require": ["sub", "exp", "email"]},
            )
            return CurrentUser(id=UUID(claims["sub"]), email=str(claims["email"]))
        except (jwt.PyJWTError, ValueError):
            return None


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


async def current_user(request: Request) -> CurrentUser | None:
    """The signed-in user, or None when there is no valid session or the user is banned."""
    runtime = request.app.state.runtime
    user: CurrentUser | None = runtime.token_verifier.verify(request.cookies.get(SESSION_COOKIE))
    if user is not None and await runtime.is_banned(user.id):
        return None
    return user


async def require_user(
    user: Annotated[CurrentUser | None, Depends(current_user)],
) -> CurrentUser:
    if user is None:
        raise NotAuthorizedError()
    return user


OptionalUser = Annotated[CurrentUser | None, Depends(current_user)]
RequiredUser = Annotated[CurrentUser, Depends(require_user)]
