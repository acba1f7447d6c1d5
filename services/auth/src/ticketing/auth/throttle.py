"""Sign-in throttling, shared by every replica through auth's own database.

Before its password is checked, a sign-in counts the attempts in the window for its email key
and for its client address: when either has reached its limit it is refused with 429 and a
``Retry-After``; otherwise it records itself as an attempt and commits, so every replica
counts it. Counting and recording are one step per email and per client (advisory locks), so
the limit holds under concurrency too: of any number of simultaneous guesses, no more than the
limit reach a password check. The attempt stays, as a failure, unless the sign-in succeeds,
which deletes all of the email's attempts. A background loop prunes attempts older than the
window.

The client address is the peer's, or with ``trust_forwarded_for`` (behind a proxy that sets
the header, as the ingress does) the first ``X-Forwarded-For`` hop.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.config import AuthSettings
from ticketing.auth.domain import seconds_until_allowed
from ticketing.auth.models import SignInAttempt
from ticketing.auth.passwords import Passwords
from ticketing.common.errors import TooManyRequestsError
from ticketing.common.service import ServiceRuntime

TOO_MANY_ATTEMPTS = "Too many sign-in attempts, try again later"
PRUNE_EVERY_SECONDS = 60
EMAIL_LOCK, CLIENT_LOCK = 7_240_301, 7_240_302  # advisory lock namespaces: any constants


SIGN_INS_THROTTLED = Counter(
    "ticketing_auth_sign_ins_throttled", "Sign-in attempts refused with 429 (too many failures)"
)


@dataclass(frozen=True)
class Limits:
    per_email: int
    per_client: int
    window: timedelta

    @classmethod
    def of(cls, settings: AuthSettings) -> Limits:
        return cls(
            per_email=settings.sign_in_max_failures_per_email,
            per_client=settings.sign_in_max_failures_per_client,
            window=timedelta(seconds=settings.sign_in_window_seconds),
        )


def client_address(request: Request, *, trust_forwarded_for: bool) -> str:
    if trust_forwarded_for:
        first_hop = request.headers.get("x-forwarded-for", "").split(",")[0]
        if address := _ip_address(first_hop):
            return address
    peer = request.client.host if request.client else ""
    return _ip_address(peer) or peer[:64] or "unknown"


def _ip_address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


async def begin_attempt(
    sessionmaker: async_sessionmaker[AsyncSession], limits: Limits, email_key: str, client: str
) -> None:
    """Record this sign-in as an attempt; ``TooManyRequestsError`` when a limit is reached."""
    async with sessionmaker() as session, session.begin():
        # Count and record as one step per email and per client (locks taken in that order by
        # every replica, held for milliseconds, not during the password check).
        for lock, value in ((EMAIL_LOCK, email_key), (CLIENT_LOCK, client)):
            await session.execute(
                sa.select(sa.func.pg_advisory_xact_lock(lock, sa.func.hashtext(value)))
            )
        now, by_email, by_client = (
            await session.execute(
                sa.select(
                    sa.func.now(),
                    _limit_reached(SignInAttempt.email_key == email_key, limits.per_email, limits),
                    _limit_reached(SignInAttempt.client == client, limits.per_client, limits),
                )
            )
        ).one()
        waits = [
            seconds_until_allowed(failure, window=limits.window, now=now)
            for failure in (by_email, by_client)
        ]
        wait = max((w for w in waits if w is not None), default=None)
        if wait is None:
            session.add(SignInAttempt(email_key=email_key, client=client))
    if wait is not None:
        SIGN_INS_THROTTLED.inc()
        raise TooManyRequestsError(TOO_MANY_ATTEMPTS, retry_after_seconds=wait)


def _limit_reached(matching: sa.ColumnElement[bool], limit: int, limits: Limits) -> Any:
    """The attempt that reaches ``limit`` (the limit-th newest in the window), or NULL."""
    return (
        sa.select(SignInAttempt.attempted_at)
        .where(matching, SignInAttempt.attempted_at > sa.func.now() - limits.window)
        .order_by(SignInAttempt.attempted_at.desc())
        .offset(limit - 1)
        .limit(1)
        .scalar_subquery()
    )


async def clear_attempts(session: AsyncSession, email_key: str) -> None:
    """A successful sign-in: the email's count starts again (in the caller's transaction)."""
    await session.execute(sa.delete(SignInAttempt).where(SignInAttempt.email_key == email_key))


async def forget_old_attempts(
    sessionmaker: async_sessionmaker[AsyncSession], window: timedelta
) -> int:
    """Delete attempts that no longer count; returns how many."""
    async with sessionmaker() as session, session.begin():
        result = await session.execute(
            sa.delete(SignInAttempt).where(SignInAttempt.attempted_at <= sa.func.now() - window)
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def prune_sign_in_attempts(runtime: ServiceRuntime[AuthSettings, Passwords]) -> None:
    """Background loop: keep the table as small as the window."""
    while True:
        await forget_old_attempts(runtime.sessionmaker, Limits.of(runtime.settings).window)
        await asyncio.sleep(PRUNE_EVERY_SECONDS)
